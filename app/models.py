"""Every domain's models, imported so Alembic and the mappers see the whole schema."""

from app.attachments.models import Answer, Attachment, Question
from app.audit.models import AuditEvent
from app.auth.models import AuthSession, PasswordResetCode, RefreshToken
from app.bonded_lists.models import BondedList, BondedListLine
from app.customs.models import Receipt
from app.db import Base
from app.declarations.models import Declaration, DeclarationEvent, DeclarationLine
from app.devices.models import Device
from app.enterprises.models import Enterprise, EnterpriseKindLink
from app.exports.models import (
    ExportContainer,
    ExportList,
    ExportParcel,
    ExportTarget,
    LineScan,
    MasterBag,
    Recheck,
)
from app.gates.models import Gate, GatePass, GatePassage, GatePassBondedList, GatePassDeclaration, Lane, Vehicle
from app.goods.models import Product
from app.idempotency.models import IdempotentRequest
from app.inspections.models import InspectionPhoto, InspectionSite, InspectionSlot, InspectionTask
from app.notices.models import Delivery, Notice, NoticePurge, NotificationSettings, StreamTicket
from app.risk.models import RiskWarning
from app.rules.models import RuleSetting
from app.stock.models import StockLevel, StockMovement
from app.trace.models import TraceCode, TraceCodeBatch, TraceScan
from app.users.models import User

__all__ = [
    "Answer",
    "Attachment",
    "AuditEvent",
    "AuthSession",
    "Base",
    "BondedList",
    "BondedListLine",
    "Declaration",
    "DeclarationEvent",
    "DeclarationLine",
    "Delivery",
    "Device",
    "Enterprise",
    "EnterpriseKindLink",
    "ExportContainer",
    "ExportList",
    "ExportParcel",
    "ExportTarget",
    "Gate",
    "GatePass",
    "GatePassBondedList",
    "GatePassDeclaration",
    "GatePassage",
    "IdempotentRequest",
    "InspectionPhoto",
    "InspectionSite",
    "InspectionSlot",
    "InspectionTask",
    "Lane",
    "LineScan",
    "MasterBag",
    "Notice",
    "NoticePurge",
    "NotificationSettings",
    "PasswordResetCode",
    "Product",
    "Question",
    "Receipt",
    "Recheck",
    "RefreshToken",
    "RiskWarning",
    "RuleSetting",
    "StockLevel",
    "StockMovement",
    "StreamTicket",
    "TraceCode",
    "TraceCodeBatch",
    "TraceScan",
    "User",
    "Vehicle",
]

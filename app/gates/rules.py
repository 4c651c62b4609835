"""What several gate use cases agree on: which passes are still in play, who sees every vehicle and pass, and how a
referral reason reads to people."""

from app.declarations.models import DeclarationStatus
from app.gates.models import PassStatus, ReferralReason
from app.i18n import N_
from app.notices.text import Message
from app.users.models import Role

P = PassStatus
R = ReferralReason
# Passes a vehicle can still drive through a gate on; a vehicle has at most one of them.
LIVE_PASS = (P.DECLARED, P.APPROVED, P.HELD, P.PASSED_GATE_1)
CAN_PASS = frozenset({P.APPROVED, P.PASSED_GATE_1})
REASON_LABELS = {
    R.NO_VALID_PASS: Message(N_("no valid gate pass")),
    R.PASS_NOT_APPROVED: Message(N_("gate pass not approved")),
    R.PASS_HELD: Message(N_("gate pass on hold")),
    R.PLATE_MISMATCH: Message(N_("plate or e-plate does not match")),
    R.CONTAINER_MISMATCH: Message(N_("container number does not match")),
    R.CONTAINER_NOT_READ: Message(N_("container number not read")),
    R.WEIGHT_OUT_OF_TOLERANCE: Message(N_("weighbridge weight outside tolerance")),
    R.ESEAL_MISMATCH: Message(N_("e-seal number does not match")),
    R.ESEAL_NOT_READ: Message(N_("e-seal not read")),
    R.WRONG_DIRECTION: Message(N_("direction differs from the gate pass")),
    R.OPEN_RISK_WARNING: Message(N_("vehicle has an unresolved risk warning")),
}
STAFF = frozenset({Role.ADMIN, Role.CUSTOMS_OFFICER, Role.GATE_OPERATOR})
# The customs gateway brings SAS221 approvals, so it must find every pass.
PASS_WIDE = STAFF | {Role.CUSTOMS_GATEWAY}
# Declarations that will never move goods through a gate.
DEAD_DECLARATION = frozenset(
    {
        DeclarationStatus.REJECTED,
        DeclarationStatus.CANCELLED,
        DeclarationStatus.SEND_FAILED,
        DeclarationStatus.SHIPPED_BACK,
    }
)

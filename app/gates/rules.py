"""What several gate use cases agree on: which passes are still in play, who sees every vehicle and pass, and how a
referral reason reads to people."""

from app.declarations.models import DeclarationStatus
from app.gates.models import PassStatus, ReferralReason
from app.notices.text import Message
from app.users.models import Role

P = PassStatus
R = ReferralReason
# Passes a vehicle can still drive through a gate on; a vehicle has at most one of them.
LIVE_PASS = (P.DECLARED, P.APPROVED, P.HELD, P.PASSED_GATE_1)
CAN_PASS = frozenset({P.APPROVED, P.PASSED_GATE_1})
REASON_LABELS = {
    R.NO_VALID_PASS: Message("无有效核放单", "no valid gate pass"),
    R.PASS_NOT_APPROVED: Message("核放单未审批", "gate pass not approved"),
    R.PASS_HELD: Message("核放单被挂起", "gate pass on hold"),
    R.PLATE_MISMATCH: Message("车牌/电子车牌不符", "plate or e-plate does not match"),
    R.CONTAINER_MISMATCH: Message("集装箱号不符", "container number does not match"),
    R.CONTAINER_NOT_READ: Message("未识别集装箱号", "container number not read"),
    R.WEIGHT_OUT_OF_TOLERANCE: Message("地磅重量超出允许误差", "weighbridge weight outside tolerance"),
    R.ESEAL_MISMATCH: Message("电子关锁号不符", "e-seal number does not match"),
    R.ESEAL_NOT_READ: Message("未读取电子关锁", "e-seal not read"),
    R.WRONG_DIRECTION: Message("进出方向与核放单不符", "direction differs from the gate pass"),
    R.OPEN_RISK_WARNING: Message("车辆有未处置的风险预警", "vehicle has an unresolved risk warning"),
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

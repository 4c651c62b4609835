"""The sync batch a handheld sends after working offline, the body of each action type, and the answer."""

from marshmallow import Schema, fields, validate

from app.common.fields import BigInteger, Integer, String
from app.gates.schemas import DecisionCreate
from app.inspections.schemas import ResultCreate

MAX_ACTIONS = 200
# The keys of app/sync/actions.ACTIONS (a test keeps them in step): one per write a handheld makes offline.
ACTION_TYPES = (
    "stock.scan_in",
    "trace.status_change",
    "gate.decision",
    "inspection.goods_ready",
    "inspection.start",
    "inspection.result",
    "export.scan_in",
    "export.recheck_task",
    "export.recheck",
)


class TaskAction(Schema):
    task_id = BigInteger(required=True)


class TaskResultAction(ResultCreate):
    task_id = BigInteger(required=True)


class RecheckTaskAction(Schema):
    declaration_id = BigInteger(required=True, metadata={"description": "The export list at the recheck bench."})


class GateDecisionAction(DecisionCreate):
    passage_id = BigInteger(required=True)


class SyncAction(Schema):
    id = fields.UUID(required=True, metadata={"description": "Made by the handheld when the action was done."})
    done_at = fields.AwareDateTime(
        required=True,
        metadata={"description": "When it was done (ISO 8601 with an offset); kept on the timeline."},
    )
    type = String(required=True, validate=validate.OneOf(ACTION_TYPES))
    body = fields.Dict(
        keys=String(),
        load_default=dict,
        metadata={
            "description": "What the matching route takes; an inspection step names its `task_id`, a gate "
            "decision its `passage_id`, the opening of an export list's recheck at the bench its `declaration_id`. "
            "Photos are uploaded to the task (POST /api/v1/inspection-tasks/{id}/photos) once it is open and before "
            "its result or recheck is sent: the timeline step counts the photos the task has then."
        },
    )


class SyncCreate(Schema):
    actions = fields.List(fields.Nested(SyncAction), required=True, validate=validate.Length(min=1, max=MAX_ACTIONS))


class ActionProblem(Schema):
    code = String(metadata={"description": "The problem code the route would have answered."})
    title = String()
    detail = String()
    errors = fields.Dict(
        metadata={"description": 'Per field, as the route reports them: {"json": {"done_at": [...]}}.'}
    )
    current = fields.Dict(allow_none=True, metadata={"description": "The thing's state now, where cheap to read."})


class ActionOutcome(Schema):
    id = fields.UUID()
    type = String()
    outcome = String(
        validate=validate.OneOf(["applied", "duplicate", "conflict", "rejected"]),
        metadata={"description": "`duplicate`: seen before; `status`, `result`, `problem` are the first answer's."},
    )
    first_outcome = String(allow_none=True, metadata={"description": "For a duplicate, what the first answer was."})
    status = Integer(metadata={"description": "The HTTP status the route would have answered."})
    result = fields.Raw(allow_none=True, metadata={"description": "What the route would have answered (applied)."})
    problem = fields.Nested(ActionProblem, allow_none=True)


class SyncRead(Schema):
    results = fields.List(fields.Nested(ActionOutcome), metadata={"description": "One per action, in order."})

"""Export figures for admins: what each Shanghai day's export lists came to."""

from marshmallow import Schema, fields

from app.common.fields import Integer, String
from app.declarations.schemas import DurationFigures


class ExportLineFigures(Schema):
    scanned = Integer(metadata={"description": "Parcels of these lists that went through the X-ray line."})
    diverted = Integer(metadata={"description": "Of them, diverted to open-box recheck at least once."})
    machine = Integer(metadata={"description": "Diverted because the machine flagged the image."})
    targeted = Integer(metadata={"description": "Diverted because customs targeted the list or the waybill (布控)."})
    list_status = Integer(metadata={"description": "Diverted because the list was not yet released."})
    diverted_share = fields.Float(allow_none=True, metadata={"description": "diverted / scanned; null if none."})
    machine_share = fields.Float(allow_none=True)
    targeted_share = fields.Float(allow_none=True)
    list_status_share = fields.Float(allow_none=True)


class ExportRecheckFigures(Schema):
    release = Integer(metadata={"description": "Released back to the line's outfeed: may be bagged."})
    hold = Integer(metadata={"description": "Held for a full inspection."})
    return_to_shipper = Integer()


class ExportDayFigures(Schema):
    lists = Integer(metadata={"description": "Export lists submitted."})
    parcels = Integer(metadata={"description": "Their parcels."})
    lists_by_status = fields.Dict(
        keys=String(),
        values=Integer(),
        metadata={"description": "The lists' statuses now (statuses with none left out)."},
    )
    line = fields.Nested(ExportLineFigures)
    rechecks = fields.Nested(
        ExportRecheckFigures, metadata={"description": "Open-box rechecks of their parcels, by disposal."}
    )
    departed = Integer(metadata={"description": "Lists departed (CEB509/510) so far."})
    submission_to_departure = fields.Nested(DurationFigures)
    same_day_departed = Integer(metadata={"description": "Lists departed on the Shanghai day they were submitted."})
    same_day_share = fields.Float(
        allow_none=True, metadata={"description": "same_day_departed / lists: the same-day promise (当日办结)."}
    )


class ExportDayRead(ExportDayFigures):
    date = fields.Date(metadata={"description": "The Asia/Shanghai calendar day the lists were submitted."})


class ExportFiguresRead(Schema):
    since = fields.DateTime()
    until = fields.DateTime()
    time_zone = String(metadata={"description": "Days are calendar days here."})
    days = fields.List(fields.Nested(ExportDayRead), metadata={"description": "Every day of the range, oldest first."})
    total = fields.Nested(ExportDayFigures, metadata={"description": "The whole range."})

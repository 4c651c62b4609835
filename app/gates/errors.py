"""The gates domain's own conflicts: codes and plates already taken, a second live pass, no lane to send a vehicle to.

Their `code` values are part of the API.
"""

from app.errors import Conflict
from app.i18n import _l


class GateCodeTaken(Conflict):
    code, title = "gate_code_taken", _l("Gate code already registered")


class LaneCodeTaken(Conflict):
    code, title = "lane_code_taken", _l("Lane code already used at this gate")


class PlateTaken(Conflict):
    code, title = "plate_taken", _l("Vehicle already registered")


class VehicleHasLivePass(Conflict):
    code, title = "vehicle_has_live_pass", _l("Vehicle already has a gate pass in play")


class NoLaneOpen(Conflict):
    code, title = "no_lane_open", _l("No open lane fits this vehicle")

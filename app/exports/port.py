"""The port's side of zone–port linkage (区港联动): where the one record of a container that left the zone goes.

The port (the airport's or the railway station's customs and cargo terminal) releases the container on the zone's
record instead of inspecting it again. The park talks to it through `PortGateway`, one small interface; this module
ships the local stand-in the app uses until a port's real interface is connected. The stand-in keeps nothing itself:
the record is stored on the container (`ExportContainer.port_record`) in the transaction that lets the container
out, and served back at GET /api/v1/export/containers/{id}/port-record, which is what the port reads meanwhile.

A real gateway does network I/O, so it must not be called inside the transaction: it would go behind an outbox, as
pushes do (app/notices/outbox.py), sending committed records and retrying. The stand-in answers at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True)
class PortAnswer:
    accepted: bool
    reference: str | None = None
    reason: str | None = None


class PortGateway(Protocol):
    name: str

    def send(self, record: dict[str, Any]) -> PortAnswer: ...


class LocalPort:
    """Stand-in for the port's system: takes every well-formed record and names it by its record number."""

    name = "local"

    def send(self, record: dict[str, Any]) -> PortAnswer:
        if not record.get("record_no") or not record.get("bags"):
            return PortAnswer(accepted=False, reason="a record names itself and carries at least one bag")
        return PortAnswer(accepted=True, reference=f"PORT-{record['record_no']}")


LOCAL_PORT = LocalPort()


def port_gateway() -> PortGateway:
    """The gateway records go to: the local stand-in until a port's interface is configured."""
    return LOCAL_PORT

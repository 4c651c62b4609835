"""The virus-scan hook every uploaded document passes before it is kept: an interface and its no-op default.

A deployment with a scanner (clamd's INSTREAM, a vendor's HTTP API) puts an adapter in
`app.extensions["attachment_scanner"]`; the routes hand it to the service. Without one, nothing is scanned.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from app.errors import DomainError, InvalidInput
from app.i18n import _, _l

EXTENSION_KEY = "attachment_scanner"


@dataclass(frozen=True)
class Verdict:
    clean: bool
    # What the scanner found ("Eicar-Test-Signature"), shown to the uploader.
    threat: str | None = None


class Scanner(Protocol):
    def scan(self, path: Path) -> Verdict:
        """Scan the file at `path`; raise ScanUnavailable when the scanner cannot answer."""
        ...


class NoScan:
    """The default: every file is clean."""

    def scan(self, path: Path) -> Verdict:
        return Verdict(clean=True)


NO_SCAN = NoScan()


class ScanUnavailable(DomainError):
    """The scanner did not answer; the upload is refused rather than kept unscanned."""

    status, code, title = 503, "scan_unavailable", _l("Virus scan unavailable")


class AttachmentRejected(InvalidInput):
    code, title = "attachment_rejected", _l("Refused by the virus scan")


def check(scanner: Scanner, path: Path) -> None:
    """Refuse the file at `path` unless `scanner` finds it clean."""
    verdict = scanner.scan(path)
    if not verdict.clean:
        message = _("The virus scan refused this file (%(threat)s).", threat=verdict.threat or _("a threat was found"))
        raise AttachmentRejected(message, errors={"files": {"file": [message]}})

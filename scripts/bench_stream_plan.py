"""The notice-stream benchmark's workload: who holds the streams, which declarations customs decides on, and
the receipt documents customs sends about them, in time order.

Streams belong to declarants spread over many enterprises (a few declarants each, as in the park: 300-800
enterprises, 3k-10k staff). A decision notifies every declarant of the declaring enterprise, so each stream
is owed every notice about its enterprise's declarations. Declarations go round-robin over the enterprises and
are then shuffled, so consecutive receipts concern different enterprises. Each declaration collects customs'
receipts in bench_data's order (120, 300, 399, 800; 120 and 800 notify), each step ``--step-gap`` seconds after
the one before (and never within the documents in flight at once), and documents carry several receipts, as
customs' gateway sends them. The run ends with some declarations part-way, as any stretch of a real day does.
"""

from __future__ import annotations

import heapq
import math
import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from bench_data import RECEIPT_ROUNDS, add_declarations
from bench_scratch import HOST, add_enterprise_with_users, app_in_process, log
from sqlalchemy import select

from app.auth.service import open_session
from app.declarations.models import DeclarationStatus
from app.users.models import User

# The receipts that notify the declarants, and the notice kind each becomes.
NOTIFIED = {120: "declaration.accepted", 800: "declaration.released"}
CODES = [code for code, _ in RECEIPT_ROUNDS]
INFO = dict(RECEIPT_ROUNDS)
SEED = 23


@dataclass(frozen=True)
class PlannedReceipt:
    declaration_id: int
    guid: str
    enterprise_id: int
    status_code: int

    @property
    def key(self) -> tuple[int, str] | None:
        """What the notice on the stream is matched by: (declaration, kind); None for a receipt that notifies nobody."""
        kind = NOTIFIED.get(self.status_code)
        return (self.declaration_id, kind) if kind else None

    def body(self, return_time: datetime) -> dict:
        receipt = {
            "guid": self.guid,
            "status_code": self.status_code,
            # Customs writes Beijing time to the millisecond.
            "return_time": (return_time + timedelta(hours=8)).strftime("%Y%m%d%H%M%S%f")[:17],
            "return_info": INFO[self.status_code],
        }
        if self.status_code == 120:
            receipt["invt_no"] = f"80122026I{self.declaration_id:09d}"
        return receipt


@dataclass
class Setup:
    gateway_token: str
    # (token, enterprise id) for each stream to open, in order.
    streams: list[tuple[str, int]]
    enterprises: int
    users: int
    documents: list[list[PlannedReceipt]] = field(default_factory=list)


def receipt_sequence(total: int, gap: int) -> list[tuple[int, int]]:
    """`total` receipts as (declaration number, step) in customs' time order.

    A declaration's next step comes `gap` receipts after its last one; a new declaration starts whenever no step
    is due, so the run ends with some declarations part-way, as a real one would.
    """
    due: list[tuple[int, int, int]] = []  # (earliest position, declaration, next step)
    sequence: list[tuple[int, int]] = []
    started = 0
    while len(sequence) < total:
        position = len(sequence)
        if due and due[0][0] <= position:
            _, declaration, step = heapq.heappop(due)
        else:
            declaration, step = started, 0
            started += 1
        sequence.append((declaration, step))
        if step + 1 < len(CODES):
            heapq.heappush(due, (position + gap, declaration, step + 1))
    return sequence


def documents_of(sequence: list[PlannedReceipt], per_document: int) -> list[list[PlannedReceipt]]:
    return [sequence[offset : offset + per_document] for offset in range(0, len(sequence), per_document)]


def prepare(env: dict[str, str], args) -> Setup:
    """Enterprises of declarants with a token per stream, and the declarations to decide on, into the database."""
    users = math.ceil(args.streams / args.streams_per_user)
    enterprises = math.ceil(users / args.users_per_enterprise)
    with app_in_process(env) as app:
        settings = app.extensions["settings"]
        with app.extensions["sessionmaker"].begin() as session:

            def token(user: User) -> str:
                pair = open_session(session, user, client_addr=HOST, user_agent="bench_stream", settings=settings)
                return pair.access_token

            gateway = session.scalar(select(User).where(User.username == "gateway"))
            log(f"adding {enterprises} enterprises with {users} declarants and {args.streams} sign-ins")
            members: list[tuple[int, User]] = []
            for n in range(enterprises):
                size = min(args.users_per_enterprise, users - n * args.users_per_enterprise)
                enterprise, made = add_enterprise_with_users(session, label="Bench", users=size)
                members.extend((enterprise.id, user) for user in made)
            streams = [
                (token(user), enterprise_id) for enterprise_id, user in members for _ in range(args.streams_per_user)
            ][: args.streams]
            setup = Setup(gateway_token=token(gateway), streams=streams, enterprises=enterprises, users=users)
            if not args.hold_only:
                # Documents in flight at once never span a declaration's two steps, whatever the rate.
                gap = max(args.per_document * (args.connections + 1), math.ceil(args.rate * args.step_gap))
                sequence = receipt_sequence(max(1, round(args.rate * args.duration)), gap)
                declarations = _declarations(session, members, 1 + max(number for number, _ in sequence))
                receipts = [PlannedReceipt(*declarations[number], status_code=CODES[step]) for number, step in sequence]
                setup.documents = documents_of(receipts, args.per_document)
    return setup


def _declarations(session, members: list[tuple[int, User]], count: int) -> list[tuple[int, str, int]]:
    """(id, guid, enterprise id) of `count` declarations spread over the enterprises, in random order."""
    first_user: dict[int, str] = {}
    for enterprise_id, user in members:
        first_user.setdefault(enterprise_id, user.username)
    owners = list(first_user.items())
    per_enterprise = [count // len(owners) + (1 if n < count % len(owners) else 0) for n in range(len(owners))]
    log(f"adding {count} declarations over {sum(1 for n in per_enterprise if n)} enterprises")
    made = []
    for (enterprise_id, username), wanted in zip(owners, per_enterprise, strict=True):
        if wanted:
            for declaration_id, guid in add_declarations(
                session, username=username, count=wanted, status=DeclarationStatus.SUBMITTED
            ):
                made.append((declaration_id, guid, enterprise_id))
    random.Random(SEED).shuffle(made)
    return made

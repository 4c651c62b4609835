"""The push dispatcher: a long-running worker that drains the outbox through the providers.

Several may run at once (claims skip each other's rows). Each turn it takes the reminder steps
that are due, claims a batch of deliveries, sends them in parallel, and settles the results in
one transaction. Nothing here runs inside a web request.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.orm import Session, sessionmaker

from app.common import clock
from app.devices.models import PushProvider
from app.infra import metrics
from app.infra.workers import BackgroundLoops
from app.notices import outbox
from app.notices.models import DeliveryChannel
from app.push.base import Failed, Outcome, PushAdapter, Retry, Sent
from app.push.sms import SmsGateway

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DispatchTurn:
    reminders: int
    claimed: int
    sent: int


class Dispatcher:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        *,
        adapters: Mapping[PushProvider, PushAdapter],
        sms: SmsGateway | None,
        batch_size: int = 200,
        concurrency: int = 32,
        lease: timedelta = timedelta(seconds=60),
    ) -> None:
        self._sessions = sessions
        self._adapters = adapters
        self._sms = sms
        self._batch_size = batch_size
        self._lease = lease
        self._pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="push")
        self._loops = BackgroundLoops("push-dispatcher", log=log)

    def run(self, *, idle_seconds: float = 0.5, on_turn: Callable[[DispatchTurn], None] | None = None) -> None:
        """Work in this thread until `stop()`; a full batch is followed at once by the next."""

        def step() -> float:
            turn = self.turn()
            if on_turn is not None:
                on_turn(turn)
            return idle_seconds if turn.claimed < self._batch_size else 0

        try:
            # The database restarting must not end the worker: the rows wait for us.
            self._loops.run(step, failure="Dispatch turn failed; trying again", retry_seconds=idle_seconds)
        finally:
            self.close()

    def stop(self) -> None:
        """End `run` after the turn in hand (safe from a signal handler: it only sets an event)."""
        self._loops.stop()

    def close(self) -> None:
        """Finish the sends in flight and close the providers' connections."""
        self._pool.shutdown(wait=True)
        for adapter in self._adapters.values():
            adapter.close()
        if self._sms is not None:
            self._sms.close()

    def turn(self) -> DispatchTurn:
        with self._sessions.begin() as session:
            reminders = outbox.take_reminder_steps(session, now=clock.utcnow())
        # A fresh "now", so the reminders just queued are due in this very turn.
        with self._sessions.begin() as session:
            jobs = outbox.claim_due(session, now=clock.utcnow(), limit=self._batch_size, lease=self._lease)
        # The claim is committed before anything is sent: a send never holds a row lock or SQLite's writer lock.
        results = list(self._pool.map(lambda job: outbox.Result(job, self._send(job)), jobs))
        metrics.count_pushes((result.job.provider or result.job.channel.value, result.outcome) for result in results)
        if results:
            with self._sessions.begin() as session:
                outbox.record_results(session, results, now=clock.utcnow())
        return DispatchTurn(
            reminders=reminders,
            claimed=len(jobs),
            sent=sum(1 for result in results if isinstance(result.outcome, Sent)),
        )

    def _send(self, job: outbox.Job) -> Outcome:
        try:
            if job.channel is DeliveryChannel.SMS:
                if self._sms is None:
                    return Failed("no SMS gateway is configured")
                if not job.phone:
                    return Failed("the recipient has no phone number")
                return self._sms.send(job.phone, job.sms_text)
            adapter = self._adapters.get(PushProvider(job.provider))
            if adapter is None or job.target is None:
                return Failed(f"no {job.provider} credentials are configured")
            return adapter.send(job.target, job.message)
        except Exception as error:
            # An adapter bug must cost one delivery a retry, not the whole batch its results.
            log.exception("Sending delivery %s failed unexpectedly", job.delivery_id)
            return Retry(after_seconds=None, reason=f"unexpected error: {error!r}"[:300])

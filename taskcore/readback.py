"""After a failed storage call, what did storage actually do? The worker's read-back step.

A call can fail after the server applied it (a reply lost to a timeout or a dropped
connection). Retrying blindly would then overwrite the current-job record of a job the server
reserved for the worker, losing it. So before retrying, the worker reads its own current-job
record back (:func:`read_back`) and drops the outcome it holds only when storage confirms that
the outcome was recorded.
"""

from __future__ import annotations

import logging
from typing import NamedTuple

from taskcore import codec
from taskcore.backend import Backend, CurrentJob, Outcome, Reservation, WorkerId

__all__ = ["Held", "held_of", "read_back"]

logger = logging.getLogger("taskcore.worker")


class Held(NamedTuple):
    """A worker's current-job record as the worker knows it."""

    queue: str
    payload: str
    run_at: str | float
    """As stored, or the unix seconds the worker reserved the job at: dated as storage wrote
    it only when a read-back compares it (:meth:`is_record`), never on the per-job path."""

    def is_record(self, current: CurrentJob) -> bool:
        """True when ``current`` is this record."""
        run_at = self.run_at if isinstance(self.run_at, str) else codec.js_date(self.run_at)
        return (
            current.queue == self.queue
            and current.payload == self.payload
            and current.run_at == run_at
        )


def held_of(reservation: Reservation, now: float) -> Held:
    """The record storage wrote for ``reservation``, reserved at ``now`` (unix seconds)."""
    return Held(reservation.queue, reservation.payload, now)


async def read_back(
    backend: Backend,
    worker: WorkerId,
    pending: Outcome | None,
    held: Held | None,
    *,
    reregistered: bool,
) -> tuple[Outcome | None, Reservation | None, Held | None]:
    """Read ``worker``'s current-job record and decide; returns ``(pending, job to run, held)``.

    ``pending`` is the outcome (of the job in ``held``) the failed call was recording, if any;
    ``reregistered`` is True when the heartbeat had to register the worker again since then.

    * the record is still the job we hold: the outcome was not recorded (keep it);
    * any other record: a job reserved for us, so the outcome was recorded (run the job);
    * no record and the worker still registered: the call was applied (carry on);
    * no record and the worker NOT registered (or registered again by the heartbeat): a
      scheduler cleaned it (judged dead) and moved the held job to the failed list; whether the
      outcome was recorded first cannot be told, so it is kept, to be recorded (again). A
      possible double count beats a lost outcome.
    """
    current = await backend.current_job(worker)
    if current is None:
        if pending is None or (
            not reregistered and await backend.worker_started(worker) is not None
        ):
            return None, None, None
        logger.warning(
            "worker %s was cleaned by a scheduler while a call recording its last outcome "
            "failed; recording the outcome again (it may be counted twice, never lost)",
            worker.name,
        )
        return pending, None, None
    if pending is not None and held is not None and held.is_record(current):
        return pending, None, held
    return (
        None,
        Reservation(current.queue, current.payload),
        Held(current.queue, current.payload, current.run_at),
    )

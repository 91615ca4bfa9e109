"""Sweeps that finish at any size: a sweep does what fits in its invocation and the next one continues.

A pass (listing every kind, then settling and judging everything) may take longer than one Lambda
invocation can run (15 minutes at most): a first sweep of 15,000 resources describes each one. So the sweep
watches its time (the invocation's remaining time, less a margin for what follows the last page: the
settling, the rules, the findings) and, between pages, stops when it is spent: it stores a checkpoint (the
kinds done, the kind in progress and the token of the page to list next) in the table, and the next
invocation resumes from there. The next invocation is the next scheduled run (hourly by default): nothing
re-invokes the function, so a pass never outlives the schedule's own retries and dead-letter queue, and
Lambda's limit is never reached. The rules judge, and findings resolve, only at the end of a whole pass.

A kind listed over more than one invocation marks nothing of it gone in that pass (which resources the
earlier invocation listed is not kept); the next pass that lists it in one invocation does. A page is
listed again from its token after a stop, and what was recorded from it is unchanged, so nothing is
described or recorded twice.

A pass that does not finish says so: each unfinished invocation logs where it stopped and counts
``SweepUnfinished``; once no pass has finished for ``SWEEP_OVERDUE_HOURS`` (Settings.sweep_overdue_hours),
every invocation logs an error and counts ``SweepPassOverdue``, whose alarm tells the team (template.yaml).
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from math import inf
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict

from guardian.kinds import Kind
from guardian.observability import MetricUnit, logger, metrics
from guardian.runtime import Guardian
from guardian.table import Key, sweep_checkpoint_key

# Kept for what follows the last page (settling, the rules, writing findings), at most a tenth of the run.
MARGIN_SECONDS = 120.0


class LambdaClock(Protocol):
    def get_remaining_time_in_millis(self) -> int: ...


@dataclass(frozen=True)
class Budget:
    """The time an invocation has left (seconds) and the margin it keeps."""

    remaining: Callable[[], float]
    margin: float = MARGIN_SECONDS

    def spent(self) -> bool:
        return self.remaining() <= self.margin

    @classmethod
    def of(cls, context: LambdaClock) -> "Budget":
        """From a Lambda context: its remaining time, with a margin of a tenth of it, at most MARGIN_SECONDS."""
        start = context.get_remaining_time_in_millis() / 1000
        return cls(lambda: context.get_remaining_time_in_millis() / 1000, min(MARGIN_SECONDS, start / 10))


UNLIMITED = Budget(lambda: inf, 0.0)


class Checkpoint(BaseModel):
    """Where the pass in progress stands."""

    model_config = ConfigDict(extra="ignore")

    pass_started_at: datetime | None = None  # None: no pass in progress
    invocations: int = 0  # of the pass in progress, this one included
    kinds_done: list[str] = []
    kind: str | None = None  # the kind in progress
    token: str | None = None  # its page to list next (None: its first)
    split: list[str] = []  # kinds listed over more than one invocation in this pass


class Checkpoints:
    """The checkpoint item (guardian.table.sweep_checkpoint_key). One sweep runs at a time (the schedule is
    hourly, a run at most 15 minutes), so a plain put is enough."""

    def __init__(self, client: Any, table_name: str, key: Key) -> None:
        self._client = client
        self._table = table_name
        self._key = key

    @classmethod
    def of(cls, guardian: Guardian) -> "Checkpoints":
        """The checkpoint of the guardian's account and region (each is swept on its own)."""
        where = guardian.location()
        return cls(
            guardian.clients("dynamodb"),
            guardian.settings.table_name,
            sweep_checkpoint_key(where.account, where.region),
        )

    def get(self) -> Checkpoint:
        item = self._client.get_item(TableName=self._table, Key=self._key, ConsistentRead=True).get("Item")
        return Checkpoint.model_validate_json(item["doc"]["S"]) if item else Checkpoint()

    def put(self, checkpoint: Checkpoint) -> None:
        item = self._key | {"type": {"S": "checkpoint"}, "doc": {"S": checkpoint.model_dump_json()}}
        self._client.put_item(TableName=self._table, Item=item)


@dataclass
class Pass:
    """One invocation's share of a pass: what it skips (done earlier), where it starts, and whether it
    stopped. Without a store (a scan, say) it is a whole pass in one go."""

    budget: Budget = UNLIMITED
    checkpoint: Checkpoint = field(default_factory=Checkpoint)
    store: Checkpoints | None = None
    stopped: bool = False
    pages: int = 0  # list pages this invocation read (the first is always read: each invocation progresses)

    @classmethod
    def resume(cls, guardian: Guardian, now: datetime, budget: Budget) -> "Pass":
        store = Checkpoints.of(guardian)
        try:
            checkpoint = store.get()
        except Exception as error:  # unreadable: this invocation starts a pass afresh (nothing is lost)
            _unavailable("read", error)
            checkpoint = Checkpoint()
        if checkpoint.pass_started_at is None:
            checkpoint = Checkpoint(pass_started_at=now)
        checkpoint.invocations += 1
        return cls(budget, checkpoint, store)

    def done(self, kind: Kind) -> bool:
        return kind.value in self.checkpoint.kinds_done

    def start_token(self, kind: Kind) -> str | None:
        """The page to start ``kind`` from: where the last invocation stopped, else its first."""
        return self.checkpoint.token if self.checkpoint.kind == kind.value else None

    def may_list(self) -> bool:
        """Whether another page fits in what is left of the invocation."""
        if self.pages and self.budget.spent():
            self.stopped = True
        return not self.stopped

    def listed_page(self) -> None:
        self.pages += 1

    def stop(self, kind: Kind, token: str | None) -> None:
        """Stop before ``kind``'s page ``token``: the next invocation starts there."""
        self.stopped = True
        self.checkpoint.kind, self.checkpoint.token = kind.value, token
        if token is not None and kind.value not in self.checkpoint.split:
            self.checkpoint.split.append(kind.value)

    def whole(self, kind: Kind) -> bool:
        """Whether ``kind`` was listed in this invocation alone (so what it did not list is gone)."""
        return kind.value not in self.checkpoint.split

    def kind_done(self, kind: Kind) -> None:
        self.checkpoint.kinds_done.append(kind.value)
        self.checkpoint.kind, self.checkpoint.token = None, None

    def save(self, now: datetime, overdue_after: timedelta) -> dict[str, Any]:
        """Store where the pass stands (a finished pass: none in progress; a pass done in one invocation writes
        nothing), say so, and what was said. Overdue: a pass in progress that began ``overdue_after`` ago or
        more (so no pass has finished for that long)."""
        checkpoint = self.checkpoint
        said: dict[str, Any] = {"finished": not self.stopped, "invocation": checkpoint.invocations}
        stored: Checkpoint | None = None
        if self.stopped:
            said |= {"resume_at": {"kind": checkpoint.kind, "after_kinds": list(checkpoint.kinds_done)}}
            metrics.add_metric(name="SweepUnfinished", unit=MetricUnit.Count, value=1)
            logger.warning(
                "sweep did not finish in this invocation: the next run continues",
                extra={"kind": checkpoint.kind, "kinds_done": checkpoint.kinds_done, "pass": said["invocation"]},
            )
            stored = checkpoint
        else:
            said["invocations"] = checkpoint.invocations
            stored = Checkpoint() if checkpoint.invocations > 1 else None  # the stored pass, cleared
        if self.store is not None and stored is not None:
            try:
                self.store.put(stored)
            except Exception as error:  # the next run resumes an older checkpoint, or starts afresh: no loss
                _unavailable("written", error)
        since = checkpoint.pass_started_at
        if self.stopped and since is not None and now - since >= overdue_after:
            said["overdue_hours"] = round((now - since) / timedelta(hours=1), 1)
            metrics.add_metric(name="SweepPassOverdue", unit=MetricUnit.Count, value=1)
            logger.error(
                "no full sweep for too long: findings may be missing or stale",
                extra={"since": since.isoformat(), "hours": said["overdue_hours"]},
            )
        return said


def _unavailable(what: str, error: Exception) -> None:
    logger.warning(
        f"sweep checkpoint not {what}: the pass goes on", extra={"error": f"{type(error).__name__}: {error}"}
    )
    metrics.add_metric(name="SweepErrors", unit=MetricUnit.Count, value=1)

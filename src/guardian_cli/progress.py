"""What a long read-only audit (`guardian scan`, `guardian inventory`) is doing, on one line of stderr: the
resources listed and described so far, and the CloudTrail history read. Shown only on a terminal (the line
itself is output.ProgressLine); the core only calls back, and knows nothing of terminals."""

import threading
import time
from collections.abc import Callable
from typing import TextIO

from guardian.evidence import PACE_SECONDS
from guardian_cli.output import ProgressLine

REDRAW_SECONDS = 0.1  # a sweep handles thousands of resources a second: the line is redrawn at most this often


class AuditProgress:
    """Callbacks for guardian.scan (``listed`` for the sweep's progress, ``looked_up`` for LookupEvents'),
    drawn as one line. Use as a context manager: the line is wiped when the audit ends, however it ends."""

    def __init__(self, stream: TextIO | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        self.line = ProgressLine(stream)
        self.clock = clock
        self.kind = ""
        self.resources_listed = 0
        self.resources_described = 0
        self.lookups: tuple[int, int] | None = None
        self._drawn_at: float | None = None

    def __enter__(self) -> "AuditProgress":
        return self

    def __exit__(self, *_exc: object) -> None:
        self.line.clear()

    def listed(self, kind: str, listed: int, described: int) -> None:
        self.kind, self.resources_listed, self.resources_described = kind, listed, described
        self._draw()

    def looked_up(self, calls: int, allowed: int) -> None:
        self.lookups = (calls, allowed)
        self._draw(always=True)  # paced at 2 a second: each is news

    def text(self) -> str:
        parts = [f"{self.resources_listed} resources listed, {self.resources_described} described"]
        if self.kind:
            parts[0] += f" ({self.kind})"
        if self.lookups is not None:
            calls, allowed = self.lookups
            rate = round(1 / PACE_SECONDS)
            parts.append(f"CloudTrail history: {calls} of at most {allowed} LookupEvents calls ({rate}/s)")
        return "scanning: " + "; ".join(parts)

    def _draw(self, always: bool = False) -> None:
        now = self.clock()
        if not always and self._drawn_at is not None and now - self._drawn_at < REDRAW_SECONDS:
            return
        self._drawn_at = now
        self.line.update(self.text())


class TargetsProgress:
    """`guardian scan` over several accounts and regions, scanned in parallel: how many are done and how many
    failed, and the resources listed so far, on one line. Its callbacks are called from the scans' threads."""

    def __init__(self, total: int, stream: TextIO | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        self.line = ProgressLine(stream)
        self.clock = clock
        self.total = total
        self.done = 0
        self.failed = 0
        self._listed: dict[object, int] = {}
        self._lock = threading.Lock()
        self._drawn_at: float | None = None

    def __enter__(self) -> "TargetsProgress":
        return self

    def __exit__(self, *_exc: object) -> None:
        with self._lock:
            self.line.clear()

    def listener(self, target: object) -> Callable[[str, int, int], None]:
        """A sweep progress callback for one target (guardian.reconcile.SweepProgress)."""

        def listed(_kind: str, listed: int, _described: int) -> None:
            with self._lock:
                self._listed[target] = listed
                self._draw()

        return listed

    def finished(self, failed: bool) -> None:
        with self._lock:
            self.done += 1
            self.failed += failed
            self._draw(always=True)

    def _draw(self, always: bool = False) -> None:
        """As AuditProgress's: at most every REDRAW_SECONDS, but a finished target always shows."""
        now = self.clock()
        if not always and self._drawn_at is not None and now - self._drawn_at < REDRAW_SECONDS:
            return
        self._drawn_at = now
        self.line.update(self.text())

    def text(self) -> str:
        failed = f", {self.failed} failed" if self.failed else ""
        return (
            f"scanning {self.total} account-regions: {self.done} done{failed}; "
            f"{sum(self._listed.values())} resources listed"
        )

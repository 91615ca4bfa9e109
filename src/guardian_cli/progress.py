"""What a long read-only audit (`guardian scan`, `guardian inventory`) is doing, on one line of stderr: the
resources listed and described so far, and the CloudTrail history read. Shown only on a terminal (the line
itself is output.ProgressLine); the core only calls back, and knows nothing of terminals."""

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

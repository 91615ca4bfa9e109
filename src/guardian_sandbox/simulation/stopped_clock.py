"""Simulated time stands still within a moment. The sandbox's clock (clock.py) runs from an offset, so a
moment's work would happen a few real milliseconds apart, and whether a grace that ends "now" has ended
would depend on how fast the machine is. Here every clock the guardian and the sandbox read (the
guardian's clock.now, Studio's, and through it moto's and CloudTrail's) says the moment itself, and a
scenario gives the same lines on every run."""

import contextlib
from collections.abc import Iterator
from datetime import datetime

from guardian import clock as guardian_clock
from guardian.aws import AwsClients
from guardian_sandbox import clock, studio


@contextlib.contextmanager
def stopped_at(clients: AwsClients, moment: datetime) -> Iterator[None]:
    """The block runs at ``moment``, exactly (the embedded sandbox only: it is in this process)."""
    guardian_now, studio_now = guardian_clock.now, studio._now
    with clock.at(clients, moment):  # the offsets too, for anything that reads them
        guardian_clock.now = lambda: moment
        studio._now = lambda: moment
        try:
            yield
        finally:
            guardian_clock.now, studio._now = guardian_now, studio_now

"""The sandbox's clock. A scenario that tells of yesterday creates yesterday's resources: while its clock
is set back, everything the sandbox creates carries that time (Studio's resources and moto's own), and
the guardian's functions, run in-process, act at that time too, so what the sweep lists agrees with what
the events said. Not an AWS API: the embedded sandbox is set directly, a served one through a
sandbox-only call."""

import contextlib
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import requests

from guardian import clock as guardian_clock
from guardian.aws import AwsClients
from guardian_sandbox import studio
from guardian_sandbox.server import CLOCK_PATH


def set_offset(clients: AwsClients, seconds: float) -> None:
    guardian_clock.set_offset(timedelta(seconds=seconds))
    if not clients.endpoint_url:
        studio.settings.clock_offset_seconds = seconds
        return
    response = requests.post(
        clients.endpoint_url.rstrip("/") + CLOCK_PATH, data=json.dumps({"OffsetSeconds": seconds}), timeout=10
    )
    response.raise_for_status()


@contextlib.contextmanager
def at(clients: AwsClients, moment: datetime) -> Iterator[None]:
    """Run the block with the sandbox's clock (and the guardian's) showing ``moment``."""
    previous = guardian_clock.offset().total_seconds()
    set_offset(clients, (moment - datetime.now(UTC)).total_seconds())
    try:
        yield
    finally:
        set_offset(clients, previous)

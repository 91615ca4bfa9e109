"""`guardian`: sandbox, demo, replay, inventory, scan, findings, snooze, report and invoke, over the same
core as the functions.

Without ``--endpoint-url`` the demo, replay and invoke run on an embedded sandbox; ``inventory`` and
``scan`` audit whatever account the credentials reach (a real one, read-only); ``findings``, ``snooze``
and ``report`` work on a deployed stack's table (found from its outputs) or a sandbox's.

This module is the entry point (pyproject's [project.scripts]): it quiets the core's logs, runs the
command parser.py chose, and turns refusals into one line and an exit status. The commands are in
commands/, their printing in output.py.
"""

import logging
import os
import sys
import warnings
from collections.abc import Iterator
from contextlib import contextmanager

from botocore.exceptions import ClientError

from guardian.observability import logger, metrics
from guardian_cli.errors import InputError
from guardian_cli.parser import build_parser


class _Stderr:
    """The core logs JSON lines; on the command line they go to whatever stderr is at the time."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    _quiet_the_core()
    try:
        with _no_metrics():
            status: int = args.run(args)
        return status
    except InputError as error:
        print(f"guardian {args.command}: {error}", file=sys.stderr)
        return 2
    except ClientError as error:  # the account said no: say what it said, not a traceback
        print(f"guardian {args.command}: {error}", file=sys.stderr)
        return 1


def _quiet_the_core() -> None:
    """The CLI prints its own output: the core's JSON logs go to stderr, quietly, and the functions it
    runs locally emit no metrics (they would print to stdout)."""
    os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
    logger.setLevel(os.environ.get("GUARDIAN_LOG_LEVEL", "WARNING"))
    handler = logger.registered_handler
    if isinstance(handler, logging.StreamHandler):  # Powertools' handler is one
        handler.setStream(_Stderr())
    logging.getLogger("botocore").setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", "No application metrics to publish")  # metrics are off here, as said


@contextmanager
def _no_metrics() -> Iterator[None]:
    """The CLI's stdout is its output (JSON, CSV, a report): the core's metrics are dropped as they are
    added while a command runs. Disabling them is not enough: Powertools publishes a metric by printing it
    to stdout as soon as it holds 100 values, disabled or not (`guardian replay` of 100 events did)."""
    metrics.add_metric = _dropped  # type: ignore[method-assign]
    try:
        yield
    finally:
        del metrics.add_metric  # the instance's own is the class's again


def _dropped(*_args: object, **_kwargs: object) -> None:
    return None


if __name__ == "__main__":
    sys.exit(main())

"""`guardian`: sandbox, demo, replay, inventory, scan, findings, snooze, restore, report, invoke and
simulate, over the same core as the functions.

Without ``--endpoint-url`` the demo, replay and invoke run on an embedded sandbox; ``inventory`` and
``scan`` audit whatever account the credentials reach (a real one, read-only); ``findings``, ``snooze``,
``restore`` and ``report`` work on a deployed stack's table (found from its outputs) or a sandbox's.

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

from botocore.exceptions import (
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
    PartialCredentialsError,
    ReadTimeoutError,
)

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
    try:
        with _quiet_core(args.verbose), _no_metrics():
            status: int = args.run(args)
        return status
    except Exception as error:
        if args.debug:
            raise
        refused = refusal(error)
        if refused is None:
            raise
        message, status = refused
        print(f"guardian {args.command}: {message}", file=sys.stderr)
        return status


def refusal(error: Exception) -> tuple[str, int] | None:
    """What to tell the user, in one line with a hint, and the exit status, for the failures a user can
    fix (2: input, credentials, network, permissions, paths) or that the account answered (1). None for a
    bug: its traceback is the report."""
    if isinstance(error, InputError):
        return str(error), 2
    if isinstance(error, NoCredentialsError | PartialCredentialsError | NoRegionError):
        return f"{error} (hint: aws configure, AWS_PROFILE, --region; or --endpoint-url URL for a sandbox)", 2
    if isinstance(error, EndpointConnectionError | ConnectTimeoutError | ReadTimeoutError | ConnectionClosedError):
        return f"{error} (hint: check the network, --region, or --endpoint-url)", 2
    if isinstance(error, ClientError):
        code = error.response.get("Error", {}).get("Code", "")
        if code in DENIED:
            return f"{error} (hint: the caller needs the read-only permissions in the README's IAM section)", 2
        if code in EXPIRED:
            return f"{error} (hint: refresh your credentials, e.g. aws sso login)", 2
        return str(error), 1  # the account said no: what it said, not a traceback
    if isinstance(error, OSError) and error.filename is not None:
        return f"{error.filename}: {error.strerror or error}", 2
    return None


DENIED = frozenset({"AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "AuthorizationError"})
EXPIRED = frozenset({"ExpiredToken", "ExpiredTokenException", "InvalidClientTokenId", "UnrecognizedClientException"})


@contextmanager
def _quiet_core(verbose: int) -> Iterator[None]:
    """The CLI prints its own output: the core's JSON logs go to stderr, and only when asked (-v: info,
    -vv: debug; GUARDIAN_LOG_LEVEL overrides), and the functions it runs locally emit no metrics (they
    would print to stdout). The logger is left as it was found (main() may run in a longer-lived process)."""
    os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
    previous_level = logger.log_level
    level = {0: "CRITICAL", 1: "INFO"}.get(verbose, "DEBUG")
    logger.setLevel(os.environ.get("GUARDIAN_LOG_LEVEL", level))
    handler = logger.registered_handler
    previous_stream = handler.setStream(_Stderr()) if isinstance(handler, logging.StreamHandler) else None
    logging.getLogger("botocore").setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", "No application metrics to publish")  # metrics are off here, as said
    try:
        yield
    finally:
        logger.setLevel(previous_level)
        if previous_stream is not None and isinstance(handler, logging.StreamHandler):
            handler.setStream(previous_stream)


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

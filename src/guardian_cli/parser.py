"""The `guardian` command line: every subcommand, its flags and help, and the step from parsed arguments to
the typed call of its command (commands/). The flags are a public interface: they change never."""

import argparse
import os
from collections.abc import Callable
from datetime import UTC, date, datetime, time
from importlib import metadata
from pathlib import Path

from guardian import clock
from guardian.findings import SEVERITIES, Status
from guardian.rules import RULES_BY_NAME
from guardian_cli import accounts
from guardian_cli.account import Endpoint, TableRef
from guardian_cli.commands import demo, findings, inventory, invoke, redeliver, replay, report, sandbox, scan, simulate
from guardian_cli.commands import restore as restore_command
from guardian_cli.errors import InputError

DEFAULT_TAG_PREFIX = "studio-cost-guardian"
Command = Callable[[argparse.Namespace], int]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="guardian", description="Studio Cost Guardian")
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    _common(parser, default=None)
    commands = parser.add_subparsers(dest="command", required=True)
    _sandbox(commands.add_parser("sandbox", help="serve the sandbox (moto + Studio APIs) on 127.0.0.1"))
    _demo(
        commands.add_parser(
            "demo", help="seed a Studio account, replay its day, print the alerts, inventory and findings"
        )
    )
    _replay(commands.add_parser("replay", help="route EventBridge events to handlers by template.yaml's rules"))
    _redeliver(commands.add_parser("redeliver", help="send again the finding changes kept in the undelivered queue"))
    _inventory(commands.add_parser("inventory", help="reconcile an account read-only and print what it holds"))
    _scan(commands.add_parser("scan", help="audit an account read-only: reconcile and every rule, in memory"))
    _findings(commands.add_parser("findings", help="list stored findings (a deployed stack, or a sandbox)"))
    _snooze(commands.add_parser("snooze", help="silence a finding until a date (its owner decided to keep it)"))
    _restore(commands.add_parser("restore", help="bring back what remediation deleted or stopped for a finding"))
    _report(commands.add_parser("report", help="who is wasting what: an ISO week, or the last 7 days"))
    _invoke(commands.add_parser("invoke", help="invoke one function with sample events (make invoke-<fn>)"))
    _simulate(commands.add_parser("simulate", help="run the deployed stack over simulated time; print what it did"))
    for command in commands.choices.values():  # -v and --debug after the subcommand too
        _common(command, default=argparse.SUPPRESS)
    return parser


def _common(parser: argparse.ArgumentParser, default: object) -> None:
    """Flags every command takes. On the subcommands they default to SUPPRESS, so that one given before
    the subcommand (`guardian -v scan`) is not reset by the subcommand's default."""
    parser.add_argument(
        "-v",
        "--verbose",
        action="count",
        default=0 if default is None else default,
        help="log to stderr: -v what the guardian does, -vv everything",
    )
    parser.add_argument(
        "--debug",
        action="store_true",
        default=False if default is None else default,
        help="show the traceback of a failure instead of a one-line error",
    )


def _version() -> str:
    try:
        return metadata.version("studio-cost-guardian")
    except metadata.PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown"


def _runs(parser: argparse.ArgumentParser, command: Command) -> None:
    """What main() calls with the parsed arguments."""
    parser.set_defaults(run=command)


# --- the subcommands -----------------------------------------------------------------------------------


def _sandbox(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--port", type=int, default=5000, help="the port to serve on; 0 picks a free one (default %(default)s)"
    )
    parser.add_argument(
        "--transition-seconds",
        type=float,
        default=2.0,
        help="how long each in-between state lasts (Studio's Pending and Deleting, an endpoint's Creating, a "
        "notebook's Stopping, an EMR cluster's STARTING...), in seconds (default %(default)s)",
    )
    _runs(parser, lambda args: sandbox.serve(args.port, args.transition_seconds))


def _demo(parser: argparse.ArgumentParser) -> None:
    _endpoint_args(parser)
    parser.add_argument(
        "--slack-webhook",
        metavar="URL",
        help="also post every Slack message (team and owner channels) to this incoming-webhook URL",
    )
    parser.add_argument(
        "--accounts",
        type=_count(20),
        default=1,
        metavar="N",
        help="tell the day across an organization of N accounts: the hub and N-1 members (default %(default)s)",
    )
    parser.add_argument(
        "--regions",
        type=_count(6),
        default=1,
        metavar="M",
        help="... in M regions of each account, the hub's first (default %(default)s)",
    )
    _runs(parser, lambda args: demo.run(_endpoint(args), args.slack_webhook, args.accounts, args.regions))


def _count(most: int) -> Callable[[str], int]:
    """A whole number from 1 to ``most`` (the demo's accounts, or the regions it has names for)."""

    def count(value: str) -> int:
        try:
            number = int(value)
        except ValueError:
            raise argparse.ArgumentTypeError(f"a whole number, not {value!r}") from None
        if not 1 <= number <= most:
            raise argparse.ArgumentTypeError(f"from 1 to {most}, not {number}")
        return number

    return count


def _replay(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "files",
        nargs="+",
        type=Path,
        metavar="FILE",
        help="a JSON event, an array of events, JSON lines, a CloudTrail log file or parked records",
    )
    _endpoint_args(parser)
    parser.add_argument(
        "--format",
        choices=("text", "json"),
        default="text",
        help="text: one line per event and what it did; json: the handlers' results (default %(default)s)",
    )
    _runs(parser, lambda args: replay.run(args.files, _endpoint(args), args.format))


def _redeliver(parser: argparse.ArgumentParser) -> None:
    _endpoint_args(parser)
    parser.add_argument(
        "--stack",
        default="studio-cost-guardian",
        help="the deployed stack (its outputs name the queue) (default %(default)s)",
    )
    parser.add_argument(
        "--format",
        choices=("text", "json"),
        default="text",
        help="text: a line per finding change sent again; json: the same as one document (default %(default)s)",
    )
    _runs(parser, lambda args: redeliver.run(_endpoint(args), args.stack, args.format))


def _inventory(parser: argparse.ArgumentParser) -> None:
    _endpoint_args(parser)
    _format_arg(parser, ("table", "json", "csv"), "table", "json and csv have the record's fields for scripts")
    _tag_prefix_arg(parser)
    _runs(parser, lambda args: inventory.run(_endpoint(args), args.format, args.tag_prefix))


def _scan(parser: argparse.ArgumentParser) -> None:
    _endpoint_args(parser)
    _format_arg(
        parser, ("table", "json", "csv"), "table", "json adds each finding's evidence and attribution, for scripts"
    )
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        dest="overrides",
        help="a rule threshold for this run, e.g. orphaned_resource.grace_minutes=0 (repeatable)",
    )
    _tag_prefix_arg(parser)
    parser.add_argument("--include-exempt", action="store_true", help="also list findings about exempt resources")
    parser.add_argument(
        "--fail-on",
        choices=SEVERITIES,
        metavar="SEVERITY",
        help=f"exit 1 if a finding of this severity or higher is found ({', '.join(SEVERITIES)}): a CI or cron gate",
    )
    parser.add_argument(
        "--min-monthly-usd",
        type=float,
        metavar="N",
        help="exit 1 if a finding costs N dollars a month or more (unknown costs never pass)",
    )
    _scan_fleet_args(parser)
    _runs(parser, _run_scan)


def _scan_fleet_args(parser: argparse.ArgumentParser) -> None:
    """Many accounts and regions in one scan (guardian_cli.accounts)."""
    members = parser.add_mutually_exclusive_group()
    members.add_argument(
        "--accounts",
        type=accounts.parse_accounts,
        metavar="ID,ID",
        help="scan these member accounts (comma-separated ids) through --role-name, assumed in each",
    )
    members.add_argument(
        "--org",
        action="store_true",
        help="scan every active account of your organization (Organizations ListAccounts) through --role-name",
    )
    parser.add_argument(
        "--ou",
        type=accounts.parse_ous,
        default=[],
        metavar="OU,OU",
        help="with --org: only the accounts under these organizational units (comma-separated ou-... ids; "
        "nested OUs included)",
    )
    parser.add_argument(
        "--role-name",
        default="GuardianMemberRole",
        help="the read-only role assumed in each account, as member-template.yaml names it (default %(default)s)",
    )
    parser.add_argument(
        "--external-id", help="the external id the member role's trust requires (member-template.yaml's ExternalId)"
    )
    parser.add_argument(
        "--regions",
        type=accounts.parse_regions,
        metavar="REGION,REGION",
        help="scan each of these regions (comma-separated; default: --region's). An account-region that fails "
        "(role missing, access denied, throttled) is reported on stderr and the rest are scanned: the gates "
        "apply to what was scanned, and the exit status is 2 only when every account-region failed",
    )
    parser.add_argument(
        "--max-workers",
        type=int,
        default=4,
        metavar="N",
        help="how many account-regions are scanned at once (default %(default)s)",
    )


def _run_scan(args: argparse.Namespace) -> int:
    gate = scan.Gate(args.fail_on, args.min_monthly_usd)
    if args.accounts is None and not args.org and args.regions is None and not args.external_id and not args.ou:
        return scan.run(_endpoint(args), args.format, args.overrides, args.tag_prefix, args.include_exempt, gate)
    if args.external_id and args.accounts is None and not args.org:
        raise InputError("--external-id is for the role assumed in --accounts or --org")
    if args.ou and not args.org:
        raise InputError("--ou narrows --org: give both")
    fleet = scan.Fleet(
        args.accounts, args.org, args.ou, args.role_name, args.external_id, args.regions, args.max_workers
    )
    return scan.run_fleet(
        _endpoint(args), args.format, args.overrides, args.tag_prefix, args.include_exempt, gate, fleet
    )


def _findings(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("show", nargs="?", choices=["show"], help="show one finding whole: guardian findings show ID")
    parser.add_argument("finding_id", nargs="?", metavar="ID", help="the finding `show` shows")
    _table_args(parser)
    parser.add_argument("--owner", help="only this owner's findings: a user profile name or ARN")
    parser.add_argument(
        "--status",
        choices=[STILL_BILLING, *(s.value for s in Status if s is not Status.OPEN), NEW],
        help=f"{STILL_BILLING}: still billing (open, notified, snoozed, remediation-scheduled); {NEW}: nobody told "
        "yet; or an exact lifecycle state (default: every status but resolved)",
    )
    parser.add_argument("--rule", help=f"only this rule's findings: {', '.join(sorted(RULES_BY_NAME))}")
    parser.add_argument(
        "--since",
        type=parse_day_or_time,
        metavar="DATE",
        help="detected on or after: YYYY-MM-DD (that day's start) or ISO time",
    )
    parser.add_argument(
        "--timezone", default="UTC", help="IANA time zone of --since's day, e.g. Europe/Paris (default %(default)s)"
    )
    _format_arg(
        parser, ("table", "json", "csv"), "table", "json and csv for scripts; `show` prints text, or JSON with json"
    )
    parser.add_argument("--include-exempt", action="store_true", help="also list exempt findings")

    def run(args: argparse.Namespace) -> int:
        if args.show:
            if not args.finding_id:
                parser.error("findings show needs the finding's ID")
            return findings.show(_table_ref(args), args.finding_id, "json" if args.format == "json" else "text")
        return findings.list_findings(
            _table_ref(args),
            args.format,
            owner=args.owner,
            statuses=statuses_of(args.status),
            rule=args.rule,
            since=start_of(args.since, args.timezone),
            include_exempt=args.include_exempt,
        )

    _runs(parser, run)


STILL_BILLING, NEW = "open", "new"


def statuses_of(choice: str | None) -> list[Status]:
    """What --status selects: "open" every state that still bills, "new" the lifecycle state open (nobody
    told yet), an exact state, or by default every state but resolved."""
    if choice is None:
        return [s for s in Status if s is not Status.RESOLVED]
    if choice == STILL_BILLING:
        return [Status.OPEN, Status.NOTIFIED, Status.SNOOZED, Status.REMEDIATION_SCHEDULED]
    return [Status.OPEN] if choice == NEW else [Status(choice)]


def parse_day_or_time(text: str) -> date | datetime:
    """A day (YYYY-MM-DD, its time zone decided later) or an ISO time (UTC unless it says otherwise)."""
    if len(text) == 10:
        try:
            return date.fromisoformat(text)
        except ValueError as error:
            raise argparse.ArgumentTypeError(f"{text!r} is not a date (YYYY-MM-DD) or ISO time") from error
    return parse_time(text)


def start_of(value: date | datetime | None, zone: str) -> datetime | None:
    """The moment --since means: a day's start in ``zone``; a time as given."""
    if value is None or isinstance(value, datetime):
        return value
    try:
        return datetime.combine(value, time.min, tzinfo=clock.zone(zone)).astimezone(UTC)
    except ValueError as error:
        raise InputError(str(error)) from error


def _snooze(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("finding_id", metavar="FINDING_ID", help="the finding's ID (the ID column of `findings`)")
    parser.add_argument(
        "--until", type=parse_time, required=True, help="until when: YYYY-MM-DD (end of that day, UTC) or ISO time"
    )
    parser.add_argument(
        "--reason", required=True, help="why it is kept: the audit trail records it, and you as who snoozed"
    )
    _table_args(parser)
    _runs(parser, lambda args: findings.snooze(_table_ref(args), args.finding_id, args.until, args.reason))


def _restore(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "finding_id", metavar="FINDING_ID", help="the finding whose resource remediation deleted or stopped"
    )
    parser.add_argument(
        "--format",
        choices=("text", "json"),
        default="text",
        help="text: what was restored, or the plan to; json: the same for scripts (default %(default)s)",
    )
    _table_args(parser)
    _runs(parser, lambda args: restore_command.run(_table_ref(args), args.finding_id, args.format))


def _report(parser: argparse.ArgumentParser) -> None:
    _table_args(parser)
    parser.add_argument("--week", help="an ISO week, e.g. 2026-W47 (default: the last 7 days up to now)")
    _format_arg(parser, ("table", "json", "csv", "html"), "table", "html: the page the weekly email links to")
    parser.add_argument("--out", type=Path, metavar="FILE", help="write the report here instead of printing it")
    parser.add_argument(
        "--timezone",
        default="UTC",
        help="IANA time zone of the weeks and days, e.g. Europe/Paris (default %(default)s)",
    )
    parser.add_argument(
        "--hide-private", action="store_true", help="count resources in private spaces without naming them"
    )
    parser.add_argument(
        "--cost-explorer", action="store_true", help="add Cost Explorer's actual cost per owner tag (one $0.01 call)"
    )
    parser.add_argument(
        "--account",
        dest="accounts",
        action="append",
        type=accounts.parse_accounts,
        metavar="ID[,ID]",
        help="only these accounts' findings (repeat it, or comma-separated 12-digit ids; default: every account)",
    )
    _tag_prefix_arg(parser)
    _runs(
        parser,
        lambda args: report.run(
            _table_ref(args),
            args.format,
            week=args.week,
            out=args.out,
            timezone=args.timezone,
            hide_private=args.hide_private,
            cost_explorer=args.cost_explorer,
            tag_prefix=args.tag_prefix,
            accounts=[a for given in args.accounts for a in given] if args.accounts else None,
        ),
    )


def _invoke(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("function", help="a function's directory name (ingest, sweep) or logical id")
    parser.add_argument(
        "files",
        nargs="+",
        type=Path,
        metavar="FILE",
        help="the events to invoke it with, in order (JSON, e.g. events/)",
    )
    _endpoint_args(parser)
    _runs(parser, lambda args: invoke.run(args.function, args.files, _endpoint(args)))


def _simulate(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("scenario", type=Path, metavar="SCENARIO", help="a scenario file, YAML or JSON (examples/)")
    parser.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="Name=Value",
        dest="parameters",
        help="a template parameter over the scenario's, e.g. RemediationMode=enforce (repeatable)",
    )
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        dest="overrides",
        help="a rule threshold, as for scan, e.g. orphaned_resource.grace_minutes=0 (repeatable)",
    )
    parser.add_argument(
        "--format",
        choices=("jsonl", "table"),
        default="jsonl",
        help="jsonl: one JSON line per thing that happened, in time order; table: the same, aligned "
        "(default %(default)s)",
    )
    _runs(parser, lambda args: simulate.run(args.scenario, args.parameters, args.overrides, args.format))


# --- flags several subcommands share -------------------------------------------------------------------


def _endpoint_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--endpoint-url",
        metavar="URL",
        help="an AWS-compatible endpoint, e.g. `guardian sandbox`'s http://127.0.0.1:5000 (default: AWS itself)",
    )
    parser.add_argument(
        "--region",
        default=os.environ.get("AWS_DEFAULT_REGION", "us-east-1"),
        help="the AWS region (default: $AWS_DEFAULT_REGION, else us-east-1; now %(default)s)",
    )


def _format_arg(parser: argparse.ArgumentParser, choices: tuple[str, ...], default: str, note: str) -> None:
    parser.add_argument("--format", choices=choices, default=default, help=f"{note} (default %(default)s)")


def _tag_prefix_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--tag-prefix",
        default=DEFAULT_TAG_PREFIX,
        help="the stack's TagPrefix: its tags are <prefix>:owner, <prefix>:exempt... (default %(default)s)",
    )


def _table_args(parser: argparse.ArgumentParser) -> None:
    _endpoint_args(parser)
    parser.add_argument(
        "--stack",
        default="studio-cost-guardian",
        help="the deployed stack whose table to read (its TableName output) (default %(default)s)",
    )
    parser.add_argument("--table", help="the table itself (default: the stack's, or the sandbox's)")


def _endpoint(args: argparse.Namespace) -> Endpoint:
    return Endpoint(url=args.endpoint_url, region=args.region)


def _table_ref(args: argparse.Namespace) -> TableRef:
    return TableRef(endpoint=_endpoint(args), stack=args.stack, table=args.table)


def parse_time(text: str) -> datetime:
    """A date (the end of that day, UTC) or an ISO time (UTC unless it says otherwise)."""
    try:
        if len(text) == 10:
            return datetime.combine(date.fromisoformat(text), time.max, tzinfo=UTC)
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
        return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date (YYYY-MM-DD) or ISO time") from error

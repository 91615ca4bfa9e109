"""`guardian`: sandbox, demo, replay, inventory, scan, findings, snooze, report and invoke, over the same
core as the functions.

Without ``--endpoint-url`` the demo, replay and invoke run on an embedded sandbox; ``inventory`` and
``scan`` audit whatever account the credentials reach (a real one, read-only); ``findings``, ``snooze``
and ``report`` work on a deployed stack's table (found from its outputs) or a sandbox's.
"""

import argparse
import contextlib
import json
import logging
import os
import sys
import warnings
from collections.abc import Iterator
from datetime import UTC, date, datetime, time
from decimal import Decimal
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from guardian.aws import AwsClients
from guardian.cost import HOURS_PER_MONTH
from guardian.events import from_cloudtrail_record
from guardian.findings import Status
from guardian.observability import logger
from guardian_cli.output import money, render, table

INVENTORY_FIELDS = (
    "arn",
    "kind",
    "name",
    "state",
    "owner",
    "space",
    "domain_id",
    "sharing",
    "instance_type",
    "instance_count",
    "attribution",
)
FINDING_COLUMNS = (
    "id",
    "rule",
    "resource_kind",
    "resource_name",
    "owner",
    "space",
    "status",
    "hourly_cost_usd",
    "waste_usd",
    "monthly_cost_usd",
    "summary",
)


class _Stderr:
    """The core logs JSON lines; on the command line they go to whatever stderr is at the time."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


class InputError(Exception):
    """Input the user gave that cannot be used: printed as a one-line message, exit status 2."""


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    # The CLI prints its own output: the core's JSON logs go to stderr, quietly, and the functions it
    # runs locally emit no metrics (they would print to stdout).
    os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
    logger.setLevel(os.environ.get("GUARDIAN_LOG_LEVEL", "WARNING"))
    logger.registered_handler.setStream(_Stderr())
    logging.getLogger("botocore").setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", "No application metrics to publish")  # metrics are off here, as said
    try:
        return args.run(args)
    except InputError as error:
        print(f"guardian {args.command}: {error}", file=sys.stderr)
        return 2
    except ClientError as error:  # the account said no: say what it said, not a traceback
        print(f"guardian {args.command}: {error}", file=sys.stderr)
        return 1


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="guardian", description="Studio Cost Guardian")
    commands = parser.add_subparsers(dest="command", required=True)

    sandbox = commands.add_parser("sandbox", help="serve the sandbox (moto + Studio APIs) on 127.0.0.1")
    sandbox.add_argument("--port", type=int, default=5000)
    sandbox.add_argument(
        "--transition-seconds",
        type=float,
        default=2.0,
        help="how long Studio resources stay Pending or Deleting (default 2)",
    )
    sandbox.set_defaults(run=_sandbox)

    demo = commands.add_parser(
        "demo", help="seed a Studio account, replay its day, print the alerts, inventory and findings"
    )
    _endpoint_args(demo)
    demo.add_argument(
        "--slack-webhook",
        metavar="URL",
        help="also post every Slack message (team and owner channels) to this incoming-webhook URL",
    )
    demo.set_defaults(run=_demo)

    replay = commands.add_parser("replay", help="route EventBridge events to handlers by template.yaml's rules")
    replay.add_argument(
        "files",
        nargs="+",
        type=Path,
        metavar="FILE",
        help="a JSON event, an array of events, JSON lines, a CloudTrail log file or parked records",
    )
    _endpoint_args(replay)
    replay.add_argument("--format", choices=("text", "json"), default="text")
    replay.set_defaults(run=_replay)

    inventory = commands.add_parser("inventory", help="reconcile an account read-only and print what it holds")
    _endpoint_args(inventory)
    inventory.add_argument("--format", choices=("table", "json", "csv"), default="table")
    inventory.add_argument("--tag-prefix", default="studio-cost-guardian")
    inventory.set_defaults(run=_inventory)

    scan = commands.add_parser("scan", help="audit an account read-only: reconcile and every rule, in memory")
    _endpoint_args(scan)
    scan.add_argument("--format", choices=("table", "json", "csv"), default="table")
    scan.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        dest="overrides",
        help="a rule threshold for this run, e.g. orphaned_resource.grace_minutes=0 (repeatable)",
    )
    scan.add_argument("--tag-prefix", default="studio-cost-guardian")
    scan.add_argument("--include-exempt", action="store_true", help="also list findings about exempt resources")
    scan.set_defaults(run=_scan)

    findings = commands.add_parser("findings", help="list stored findings (a deployed stack, or a sandbox)")
    _store_args(findings)
    findings.add_argument("--owner", help="a user profile name or ARN")
    findings.add_argument("--status", choices=[s.value for s in Status], help="default: every status but resolved")
    findings.add_argument("--rule")
    findings.add_argument("--since", type=_date, help="detected on or after (YYYY-MM-DD or ISO time)")
    findings.add_argument("--format", choices=("table", "json", "csv"), default="table")
    findings.add_argument("--include-exempt", action="store_true", help="also list exempt findings")
    findings.set_defaults(run=_findings)

    snooze = commands.add_parser("snooze", help="silence a finding until a date (its owner decided to keep it)")
    snooze.add_argument("finding_id", metavar="FINDING_ID")
    snooze.add_argument("--until", type=_date, required=True, help="YYYY-MM-DD (end of that day, UTC) or ISO time")
    snooze.add_argument("--reason", required=True)
    _store_args(snooze)
    snooze.set_defaults(run=_snooze)

    report = commands.add_parser("report", help="who is wasting what: an ISO week, or the last 7 days")
    _store_args(report)
    report.add_argument("--week", help="an ISO week, e.g. 2026-W47 (default: the last 7 days up to now)")
    report.add_argument("--format", choices=("table", "json", "csv", "html"), default="table")
    report.add_argument("--out", type=Path, metavar="FILE", help="write the report here instead of printing it")
    report.add_argument("--timezone", default="UTC", help="IANA time zone of the weeks and days (default UTC)")
    report.add_argument(
        "--hide-private", action="store_true", help="count resources in private spaces without naming them"
    )
    report.add_argument(
        "--cost-explorer", action="store_true", help="add Cost Explorer's actual cost per owner tag (one $0.01 call)"
    )
    report.add_argument("--tag-prefix", default="studio-cost-guardian", help="the stack's TagPrefix")
    report.set_defaults(run=_report)

    invoke = commands.add_parser("invoke", help="invoke one function with sample events (make invoke-<fn>)")
    invoke.add_argument("function", help="a function's directory name (ingest, sweep) or logical id")
    invoke.add_argument("files", nargs="+", type=Path, metavar="FILE")
    _endpoint_args(invoke)
    invoke.set_defaults(run=_invoke)
    return parser


def _endpoint_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--endpoint-url", help="an AWS-compatible endpoint, e.g. `guardian sandbox`'s")
    parser.add_argument("--region", default=os.environ.get("AWS_DEFAULT_REGION", "us-east-1"))


def _store_args(parser: argparse.ArgumentParser) -> None:
    _endpoint_args(parser)
    parser.add_argument(
        "--stack", default="studio-cost-guardian", help="the deployed stack whose table to read (its TableName output)"
    )
    parser.add_argument("--table", help="the table itself (default: the stack's, or the sandbox's)")


def _date(text: str) -> datetime:
    try:
        if len(text) == 10:
            return datetime.combine(date.fromisoformat(text), time.max, tzinfo=UTC)
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
        return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date (YYYY-MM-DD) or ISO time") from error


@contextlib.contextmanager
def _account(args: argparse.Namespace, embedded_default: bool = True) -> Iterator[AwsClients]:
    """Clients for the account a command works on: a sandbox at --endpoint-url, an embedded one, or AWS."""
    from guardian_sandbox import embedded, use_fake_credentials

    if args.endpoint_url:
        use_fake_credentials()
        yield AwsClients(region=args.region, endpoint_url=args.endpoint_url)
    elif embedded_default:
        with embedded(args.region) as clients:
            yield clients
    else:
        yield AwsClients(region=args.region)


# --- commands ----------------------------------------------------------------------------------------


def _sandbox(args: argparse.Namespace) -> int:
    from guardian_sandbox import studio
    from guardian_sandbox.server import SandboxServer

    studio.settings.transition_seconds = args.transition_seconds
    server = SandboxServer(args.port)
    print(
        f"Sandbox on {server.url} (moto + SageMaker Studio APIs). Use it with:\n"
        f"  export AWS_ENDPOINT_URL={server.url} AWS_ACCESS_KEY_ID=sandbox AWS_SECRET_ACCESS_KEY=sandbox\n"
        f"  guardian demo --endpoint-url {server.url}\nCtrl-C stops it.",
        flush=True,
    )
    server.serve_forever()
    return 0


def _demo(args: argparse.Namespace) -> int:
    from guardian_sandbox import demo

    with _account(args) as clients:
        result = demo.run(clients, print, slack_webhook=args.slack_webhook)
    rows = demo.inventory_rows(result.resources)
    print(table(rows, demo.INVENTORY_COLUMNS))
    by_source: dict[str, int] = {}
    for row in rows:
        by_source[row["attribution"]] = by_source.get(row["attribution"], 0) + 1
    print(
        f"\n{len(rows)} resources; owners by source: "
        + ", ".join(f"{source} {count}" for source, count in sorted(by_source.items()))
        + f"; {sum(row['tagged'] for row in rows)} carry the guardian's ownership tags."
    )
    print(
        f"{result.delivered} deliveries, {result.rejected} rejected and parked for replay; duplicates and late "
        f"events changed nothing they should not have.\n"
    )
    print(
        f"{len(result.messages)} emails sent"
        + (f" (and the same to Slack at {args.slack_webhook})" if args.slack_webhook else "")
        + f"; the duplicate stream batch sent {result.redelivered_messages}.\n"
    )
    _print_findings(result.findings, argparse.Namespace(format="table", include_exempt=True), result.now)
    if args.endpoint_url:
        print(
            f"State left in the sandbox at {args.endpoint_url}: try `guardian inventory --endpoint-url "
            f"{args.endpoint_url} --format json`, `guardian findings --endpoint-url {args.endpoint_url}` or "
            f"`guardian report --endpoint-url {args.endpoint_url} --format html --out report.html`."
        )
    return 0


def waste_summary(findings, now: datetime) -> str:
    """Totals with each resource's hours counted once (an EMR cluster can be both orphaned and idle)."""
    from guardian.report import Period, allocate, cents

    counted = [f for f in findings if f.status is not Status.EXEMPT]
    since = min((f.condition_since for f in counted), default=now)
    waste = cents(sum((share.total for share in allocate(counted, Period("so far", since, now))), Decimal(0)))
    hourly = {f.resource_arn: f.hourly_cost_usd or 0 for f in counted}
    monthly = sum(hourly.values()) * float(HOURS_PER_MONTH)
    unknown = sum(f.hourly_cost_usd is None for f in counted)
    exempt = len(findings) - len(counted)
    return (
        f"\n{len(counted)} findings: ${waste:,.2f} wasted so far, ${monthly:,.2f}/month if left running"
        + (f"; {unknown} with no known price (not counted as $0)" if unknown else "")
        + (f"; {exempt} exempt" if exempt else "")
        + "."
    )


def _replay(args: argparse.Namespace) -> int:
    from guardian_sandbox.stack import SandboxStack

    events = [event for path in args.files for event in read_events(path)]
    with _account(args) as clients:
        stack = SandboxStack(clients).deploy()
        reports, failed = [], 0
        for index, event in enumerate(events, 1):
            deliveries = stack.deliver(event)
            entry: dict[str, Any] = {
                "event": index,
                "id": event.get("id"),
                "detail-type": event.get("detail-type"),
                "matched": [f"{d.rule.function}/{d.rule.name}" for d in deliveries],
            }
            if not deliveries:
                entry["error"] = "no rule in template.yaml matches this event"
            for delivery in deliveries:
                if delivery.error is not None:
                    entry["error"] = str(delivery.error)
                else:
                    entry["result"] = delivery.result
            failed += "error" in entry
            reports.append(entry)
    if args.format == "json":
        print(json.dumps(reports, indent=2, default=str))
    else:
        for entry in reports:
            print(_replay_line(entry))
        print(f"{len(events)} events, {len(events) - failed} recorded, {failed} rejected or unmatched")
    return 1 if failed else 0


def _replay_line(entry: dict[str, Any]) -> str:
    head = f"#{entry['event']} {entry['detail-type']} -> {', '.join(entry['matched']) or 'no rule'}"
    if "error" in entry:
        return f"{head}: REJECTED: {entry['error']}"
    result = entry["result"]
    if result.get("ignored"):
        return f"{head}: ignored ({result['ignored']})"
    parts = [
        f"{r['kind']} {r['arn'].rsplit(':', 1)[-1]} {r['state']} owner={r['owner'] or '?'} [{r['attribution']}]"
        + (" changed" if r["changed"] else " unchanged")
        + (" +tags" if r["tagged"] else "")
        for r in result["resources"]
    ]
    return f"{head}: {'; '.join(parts)}"


def _inventory(args: argparse.Namespace) -> int:
    from guardian.scan import scan_guardian, scan_inventory

    with _account(args, embedded_default=False) as clients:
        guardian = scan_guardian(clients, tag_prefix=args.tag_prefix, price_source=_prices(args))
        report = scan_inventory(guardian, datetime.now(UTC))
    rows = [{k: r.summary()[k] for k in INVENTORY_FIELDS} for r in guardian.inventory.all()]
    print(render(rows, args.format, INVENTORY_FIELDS))
    _warn(report)
    return 0


def _scan(args: argparse.Namespace) -> int:
    from guardian.scan import scan_guardian, scan
    from guardian.rules import RulesConfig

    try:
        rules = RulesConfig().with_overrides(args.overrides)
    except ValueError as error:
        raise InputError(str(error)) from error
    now = datetime.now(UTC)
    with _account(args, embedded_default=False) as clients:
        guardian = scan_guardian(clients, rules, args.tag_prefix, _prices(args))
        report, evaluation = scan(guardian, now)
    _print_findings(evaluation.findings, args, now)
    _warn(report)
    return 0


def _findings(args: argparse.Namespace) -> int:
    now = datetime.now(UTC)
    with _account(args, embedded_default=False) as clients:
        store = _store(args, clients)
        statuses = [Status(args.status)] if args.status else [s for s in Status if s is not Status.RESOLVED]
        if args.owner:
            found = [
                f for key in _owner_keys(args.owner, clients, args.region) for f in store.of_owner(key, args.since)
            ]
            found = [f for f in found if f.status in statuses]
        else:
            found = [f for s in statuses for f in store.with_status(s) if not args.since or f.detected_at >= args.since]
    found = [f for f in found if not args.rule or f.rule == args.rule]
    _print_findings(list({f.id: f for f in found}.values()), args, now)
    return 0


def _report(args: argparse.Namespace) -> int:
    from guardian import report_format
    from guardian.actual_cost import actual_cost
    from guardian.report import Period, report_for

    now = datetime.now(UTC)
    try:
        period = Period.iso_week(args.week, args.timezone) if args.week else Period.last_days(now, 7, args.timezone)
    except ValueError as error:
        raise InputError(str(error)) from error
    with _account(args, embedded_default=False) as clients:
        actual = actual_cost(clients("ce"), period, f"{args.tag_prefix}:owner") if args.cost_explorer else None
        document = report_for(_store(args, clients), period, now, names=not args.hide_private, actual=actual)
    if args.format == "json":
        text = json.dumps(document, indent=2) + "\n"
    elif args.format == "csv":
        text = report_format.to_csv(document)
    elif args.format == "html":
        text = report_format.to_html(document)
    else:
        text = "\n".join(report_format.summary_lines(document)) + "\n"
    if args.out:
        args.out.write_text(text)
        print(f"wrote {args.out} ({report_format.headline(document)})")
    else:
        sys.stdout.write(text)
    return 0


def _snooze(args: argparse.Namespace) -> int:
    from guardian import findings as lifecycle

    now = datetime.now(UTC)
    with _account(args, embedded_default=False) as clients:
        store = _store(args, clients)
        finding = store.get(args.finding_id)
        if finding is None:
            raise InputError(f"no finding {args.finding_id}")
        try:
            snoozed, audit = lifecycle.snoozed(finding, args.until, args.reason, _actor(clients), now)
        except ValueError as error:
            raise InputError(str(error)) from error
        store.put(snoozed, audit)
    print(
        f"{finding.id} ({finding.rule}, {finding.resource_name}) snoozed until {args.until.isoformat()}: {args.reason}"
    )
    return 0


def _print_findings(found, args: argparse.Namespace, now: datetime) -> None:
    """Findings, costliest first. Exempt ones are waste someone chose to keep: left out unless asked for
    (or listed with --status exempt), and counted in the summary line."""
    shown_exempt = args.include_exempt or getattr(args, "status", None) == Status.EXEMPT.value
    exempt = [f for f in found if f.status is Status.EXEMPT]
    found = sorted(
        (f for f in found if shown_exempt or f.status is not Status.EXEMPT), key=lambda f: -(f.waste_usd(now) or 0)
    )
    fmt = args.format
    rows = [f.public(now) for f in found]
    columns = FINDING_COLUMNS
    if fmt == "table":
        print(table([money(r) for r in rows], columns))
        print(
            waste_summary(found, now)
            + (f" {len(exempt)} exempt not shown (--include-exempt)." if exempt and not shown_exempt else "")
        )
    else:
        print(render(rows, fmt, (*columns, "domain_id", "sharing", "detected_at", "resource_arn", "severity")))


def _store(args: argparse.Namespace, clients: AwsClients):
    from guardian.findings_store import DynamoFindings
    from guardian_sandbox.stack import TABLE_NAME

    table_name = args.table or (TABLE_NAME if args.endpoint_url else _stack_table(clients, args.stack))
    return DynamoFindings(clients("dynamodb"), table_name)


def _stack_table(clients: AwsClients, stack: str) -> str:
    from botocore.exceptions import ClientError

    try:
        outputs = clients("cloudformation").describe_stacks(StackName=stack)["Stacks"][0].get("Outputs", [])
    except ClientError as error:
        raise InputError(f"stack {stack!r}: {error.response['Error']['Message']} (use --stack or --table)") from error
    for output in outputs:
        if output["OutputKey"] == "TableName":
            return output["OutputValue"]
    raise InputError(f"stack {stack!r} has no TableName output")


def _owner_keys(owner: str, clients: AwsClients, region: str) -> list[str]:
    """Findings are kept under the owner's profile ARN (or their name, before the profile was known)."""
    if owner.startswith("arn:"):
        return [owner]
    from guardian.aws import account_location

    location = account_location(clients)
    profiles = clients("sagemaker").get_paginator("list_user_profiles").paginate(UserProfileNameContains=owner)
    arns = [
        location.user_profile(p["DomainId"], p["UserProfileName"])
        for page in profiles
        for p in page["UserProfiles"]
        if p["UserProfileName"] == owner
    ]
    return [*arns, owner]


def _actor(clients: AwsClients) -> str:
    try:
        return clients("sts").get_caller_identity()["Arn"]
    except Exception:  # the actor is a courtesy in the audit trail; the user's name will do
        return os.environ.get("USER", "cli")


def _prices(args: argparse.Namespace) -> str:
    return "bundled" if args.endpoint_url else "price-list"


def _warn(report) -> None:
    for kind, k in report.kinds.items():
        for error in k.errors:
            print(f"warning: {kind}: {error}", file=sys.stderr)


def _invoke(args: argparse.Namespace) -> int:
    from guardian_sandbox.stack import SandboxStack
    from guardian_sandbox.template import template

    functions = template().functions()
    logical_id = next(
        (
            f
            for f, r in functions.items()
            if f == args.function or Path(r["Properties"]["CodeUri"]).name == args.function
        ),
        None,
    )
    if logical_id is None:
        raise InputError(f"no function {args.function!r} in template.yaml (have: {', '.join(functions)})")
    events = [_read_json(path) for path in args.files]  # each file is one invocation's event, as it is
    status = 0
    with _account(args) as clients:
        stack = SandboxStack(clients).deploy()
        for path_event in events:
            try:
                print(json.dumps(stack.invoke(logical_id, path_event), indent=2, default=str))
            except Exception as error:  # the function's failure is what the user asked to see
                print(f"{logical_id} failed: {type(error).__name__}: {error}", file=sys.stderr)
                status = 1
    return status


# --- input -------------------------------------------------------------------------------------------


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except OSError as error:
        raise InputError(f"{path}: {error.strerror}") from error
    except json.JSONDecodeError as error:
        raise InputError(f"{path}: not JSON ({error.msg})") from error


def read_events(path: Path) -> list[dict[str, Any]]:
    """Events from a file: one JSON object, an array, JSON lines, a CloudTrail log file ({"Records": []}),
    or records parked by Lambda's on-failure destination ({"requestPayload": ...})."""
    try:
        text = path.read_text()
    except OSError as error:
        raise InputError(f"{path}: {error.strerror}") from error
    try:
        documents = [json.loads(text)]
    except json.JSONDecodeError:
        documents = []
        for number, line in enumerate(text.splitlines(), 1):
            if line.strip():
                try:
                    documents.append(json.loads(line))
                except json.JSONDecodeError as error:
                    raise InputError(f"{path}:{number}: not JSON ({error.msg})") from error
    events: list[dict[str, Any]] = []
    for document in documents:
        items = document if isinstance(document, list) else [document]
        for item in items:
            events.extend(_unwrap(item, path))
    return events


def _unwrap(item: Any, path: Path) -> list[dict[str, Any]]:
    if not isinstance(item, dict):
        raise InputError(f"{path}: expected JSON objects, found {type(item).__name__}")
    if "Records" in item and isinstance(item["Records"], list):
        return [from_cloudtrail_record(record) for record in item["Records"]]
    if "requestPayload" in item:
        return [item["requestPayload"]]
    if "eventSource" in item and "detail" not in item:
        return [from_cloudtrail_record(item)]
    return [item]


if __name__ == "__main__":
    sys.exit(main())

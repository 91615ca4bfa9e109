"""`guardian simulate SCENARIO`: the deployed stack over simulated time on the embedded sandbox, and what
it did, as JSON lines (a scripting interface: README, "Simulate") or a table to read."""

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from guardian_cli.errors import InputError
from guardian_cli.output import table

if TYPE_CHECKING:
    from guardian_sandbox.simulation import Line, SummaryLine

TABLE_COLUMNS = ("at", "kind", "resource", "who", "what", "detail")


def run(scenario: Path, parameters: list[str], overrides: list[str], fmt: str) -> int:
    """``parameters``: template parameters over the scenario's (Name=Value); ``overrides``: rule thresholds
    (orphaned_resource.grace_minutes=0), as `guardian scan --set` takes them."""
    try:  # the sandbox (moto) is an extra: the CLI works on a real account without it
        from guardian_sandbox.simulation import ScenarioError, simulate_file
    except ModuleNotFoundError as error:
        raise InputError(f"{error} (hint: pip install 'studio-cost-guardian[sandbox]')") from None
    given = dict(_assignment(text, "--param") for text in parameters)
    rows: list[dict[str, str]] = []

    def emit(line: "Line") -> None:
        if fmt == "jsonl":
            print(line.model_dump_json(), flush=True)
        else:
            rows.append(_row(line.model_dump()))

    try:
        summary = simulate_file(scenario, emit, _warn, given, overrides)
    except ScenarioError as error:
        if rows:
            print(table(rows, TABLE_COLUMNS))
        raise InputError(str(error)) from None
    if fmt == "jsonl":
        print(summary.model_dump_json(), flush=True)
    else:
        print(table(rows, TABLE_COLUMNS))
        print(_summary_text(summary))
    return 0


def _assignment(text: str, flag: str) -> tuple[str, str]:
    name, equals, value = text.partition("=")
    if not equals or not name.strip():
        raise InputError(f"{flag} {text!r}: expected Name=Value")
    return name.strip(), value


def _warn(text: str) -> None:
    print(f"warning: {text}", file=sys.stderr)


def _money(value: float | None) -> str:
    return "?" if value is None else f"${value:,.2f}"


def _row(line: dict[str, Any]) -> dict[str, str]:
    """A line as the table's columns: what it is about, whom, what happened, and the detail."""
    kind = line["kind"]
    if kind == "finding":
        cost = f"{_money(line['hourly_cost_usd'])}/h, {_money(line['waste_usd'])} so far"
        return _cells(line, line["resource_name"], line["owner"] or "-", f"{line['rule']}: {line['status']}", cost)
    if kind == "message":
        whom = f"{line['audience']} {', '.join(line['to']) or '(nobody)'}"
        outcome = f"{line['channel']}, {'delivered' if line['delivered'] else 'NOT delivered'}"
        return _cells(line, ", ".join(line["resources"]) or "-", whom, line["subject"], outcome)
    if kind == "action":
        return _cells(line, line["resource_name"], line["mode"], line["action"], line["outcome"])
    return _cells(line, line["resource_name"], "-", "not acted on", line["reason"])


def _cells(line: dict[str, Any], resource: str, who: str, what: str, detail: str) -> dict[str, str]:
    return {"at": line["at"], "kind": line["kind"], "resource": resource, "who": who, "what": what, "detail": detail}


def _summary_text(summary: "SummaryLine") -> str:
    return (
        f"\n{summary.start} .. {summary.until}: {summary.findings} findings, {summary.messages} messages "
        f"({summary.messages_delivered} delivered), {summary.actions} actions ({summary.acted} acted), "
        f"{summary.skipped} skipped, {summary.failed_runs} failed runs."
    )

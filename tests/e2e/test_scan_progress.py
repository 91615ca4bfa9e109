"""A long read-only audit shows a sign of life: on a terminal, one line on stderr counts the resources listed
and described (and the CloudTrail history read), rewritten in place and wiped before the results print; a
pipe, a file or a CI log gets none of it."""

import io

import pytest

from guardian_cli.output import ProgressLine
from guardian_cli.progress import AuditProgress
from tests.e2e.test_cli import run
from tests.e2e.test_scan_truthful import account  # noqa: F401  (the fixture: a seeded account)


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture
def terminal(monkeypatch) -> Terminal:
    shown = Terminal()
    monkeypatch.setattr("guardian_cli.progress.ProgressLine", lambda _stream: ProgressLine(shown))
    monkeypatch.setattr("guardian_cli.progress.REDRAW_SECONDS", 0)  # every step drawn, however fast
    return shown


@pytest.mark.parametrize("command", ["scan", "inventory"])
def test_an_audit_on_a_terminal_counts_the_resources_listed_and_described_then_wipes_the_line(
    account,  # noqa: F811
    terminal,
    capsys,
    command,
):
    url, _ = account
    status, out, err = run(capsys, command, "--endpoint-url", url)
    assert status == 0
    assert "listed" not in err and "\r" not in out  # stderr and stdout are not terminals here: nothing on them
    shown = terminal.getvalue()
    drawn = [line.removesuffix("\x1b[K") for line in shown.split("\r") if line.strip("\x1b[K")]
    listed = [line for line in drawn if "resources listed" in line]
    assert listed, shown
    # The counts only grow, and end at every resource the seed made (a domain, 2 profiles, a space, 3 endpoints...).
    counts = [int(line.split("scanning: ")[1].split()[0]) for line in listed]
    assert counts == sorted(counts) and counts[-1] >= 7
    assert any("(endpoint)" in line for line in listed)
    assert shown.endswith("\r\x1b[K")  # wiped before the results print


def test_the_line_is_redrawn_at_most_ten_times_a_second_however_fast_the_sweep_goes():
    ticks = iter([0.0, 0.01, 0.02, 0.2, 0.21])
    line = Terminal()
    progress = AuditProgress(line, clock=lambda: next(ticks))
    for listed in range(1, 6):
        progress.listed("endpoint", listed, 0)
    assert line.getvalue().count("\r") == 2  # at 0.0 and 0.2
    assert "scanning: 4 resources listed, 0 described (endpoint)" in line.getvalue()


def test_nothing_is_written_when_stderr_is_not_a_terminal():
    piped = io.StringIO()
    with AuditProgress(piped) as progress:
        progress.listed("space", 3, 1)
        progress.looked_up(1, 120)
    assert piped.getvalue() == ""

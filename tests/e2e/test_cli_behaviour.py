"""A CLI that behaves: what a user can fix (credentials, network, permissions, paths) is one line with a
hint and exit status 2, the traceback only with --debug; the core's log lines only when asked (-v); and
`--version`."""

import json

import pytest

from guardian_cli.main import main
from tests.conftest import sample

NO_CREDENTIALS = {
    "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/credentials",
    "AWS_CONFIG_FILE": "/nonexistent/config",
    "AWS_EC2_METADATA_DISABLED": "true",
}


def run(capsys, *argv: str) -> tuple[int, str, str]:
    status = main(list(argv))
    out = capsys.readouterr()
    return status, out.out, out.err


@pytest.fixture
def no_credentials(monkeypatch):
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(key, raising=False)
    for key, value in NO_CREDENTIALS.items():
        monkeypatch.setenv(key, value)


def test_version(capsys):
    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0
    assert capsys.readouterr().out.startswith("guardian ")


def test_missing_credentials_are_one_line_with_a_hint(no_credentials, capsys):
    status, out, err = run(capsys, "findings", "--table", "t", "--region", "us-east-1")
    assert status == 2 and out == ""
    assert err.count("\n") == 1 and "Unable to locate credentials" in err and "hint: aws configure" in err


def test_debug_shows_the_traceback(no_credentials, capsys):
    from botocore.exceptions import NoCredentialsError

    with pytest.raises(NoCredentialsError):
        main(["findings", "--table", "t", "--region", "us-east-1", "--debug"])


def test_no_network_is_one_line_with_a_hint(capsys, monkeypatch):
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")  # botocore would retry the refused connection
    status, _, err = run(capsys, "findings", "--endpoint-url", "http://127.0.0.1:9", "--region", "us-east-1")
    assert status == 2
    assert err.count("\n") == 1 and "Could not connect" in err and "hint: check the network" in err


def test_a_missing_output_folder_is_one_line(sandbox_url, capsys, tmp_path):
    assert run(capsys, "demo", "--endpoint-url", sandbox_url)[0] == 0
    missing = tmp_path / "no-such-folder" / "week.html"
    status, _, err = run(capsys, "report", "--endpoint-url", sandbox_url, "--format", "html", "--out", str(missing))
    assert status == 2 and err == f"guardian report: {missing}: No such file or directory\n"


def test_log_lines_only_when_asked(tmp_path, capsys):
    events = tmp_path / "events.json"
    events.write_text(json.dumps([sample("cloudtrail_CreateUserProfile.json")]))
    status, out, err = run(capsys, "replay", str(events))
    assert status == 0 and "1 events, 1 recorded" in out and err == ""
    status, out, err = run(capsys, "replay", str(events), "-v")
    assert status == 0 and "1 events, 1 recorded" in out
    assert any(json.loads(line)["level"] == "INFO" for line in err.splitlines())  # the core's log, on stderr
    assert all(not line.startswith("{") for line in out.splitlines())


def test_tables_fit_the_width_they_are_given_and_piped_output_is_never_cut():
    from guardian_cli.output import table

    rows = [{"id": "f-0123456789abcdef", "summary": "still billing since space alice-lab stopped " * 3}]
    narrow = table(rows, ["id", "summary"], width=60)
    assert all(len(line) <= 60 for line in narrow.splitlines())
    assert narrow.splitlines()[1].endswith("…") and "f-0123456789abcdef" in narrow
    assert table(rows, ["id", "summary"]) == table(rows, ["id", "summary"], width=10_000)  # not a terminal

"""A handler's cold start imports only what every invocation needs (issue 13; the figures are `make bench`'s,
guardian_sandbox.bench_cold): boto3 (botocore's session serves) and slack-sdk (only to post) never at import,
and Notify's three paths (the stream's batch utility, the digest, the held messages) only when an event takes
one. botocore itself is imported up front: every invocation makes clients, so deferring it would move its cost,
not save it. Checked by what a fresh interpreter has imported, not by timing, so a busy machine cannot make it
pass or fail."""

import json
import os
import subprocess
import sys

import pytest

from guardian_sandbox.template import PROJECT_ROOT

# Import the handler module as the Lambda runtime does (by file); print what is then imported.
_CHILD = """
import importlib.util, json, sys
spec = importlib.util.spec_from_file_location("app", sys.argv[1])
spec.loader.exec_module(importlib.util.module_from_spec(spec))
print(json.dumps(sorted(sys.modules)))
"""
FUNCTIONS = sorted(p.parent.name for p in (PROJECT_ROOT / "functions").glob("*/app.py"))
FIRST_USE = ("boto3", "slack_sdk")
NOTIFY_PATHS = ("aws_lambda_powertools.utilities.batch", "guardian.notify", "guardian.digest", "guardian.held")


def imported_by(function: str) -> set[str]:
    app = PROJECT_ROOT / "functions" / function / "app.py"
    environment = {**os.environ, "AWS_LAMBDA_FUNCTION_NAME": function}
    finished = subprocess.run(
        [sys.executable, "-c", _CHILD, str(app)], env=environment, capture_output=True, text=True, check=True
    )
    return set(json.loads(finished.stdout))


@pytest.mark.parametrize("function", FUNCTIONS)
def test_a_handler_imports_neither_boto3_nor_slack_sdk(function):
    assert {name for name in FIRST_USE if name in imported_by(function)} == set()


def test_notify_imports_none_of_its_paths_until_an_event_takes_one():
    assert {name for name in NOTIFY_PATHS if name in imported_by("notify")} == set()

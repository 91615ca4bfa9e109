"""`pip install studio-cost-guardian[cli]` audits a real account without moto: no command a real account
uses imports the sandbox. Checked in a fresh interpreter where importing moto fails, as it would where the
`sandbox` extra is not installed."""

import subprocess
import sys

from guardian_sandbox.template import PROJECT_ROOT

WITHOUT_MOTO = """
import sys
sys.modules["moto"] = None  # any import of moto now raises ImportError
from guardian_cli.account import Endpoint, TableRef, account, findings_store
from guardian_cli.main import main
from guardian_cli.parser import build_parser
for command in ("scan", "findings", "report", "inventory"):
    try:
        build_parser().parse_args([command, "--help"])
    except SystemExit as done:
        assert done.code == 0, command
with account(Endpoint(None, "us-east-1"), embedded_default=False) as clients:
    store = findings_store(TableRef(Endpoint(None, "us-east-1"), "stack", table="t"), clients)
assert "guardian_sandbox" not in sys.modules and "moto" not in [m for m in sys.modules if sys.modules[m]]
print("ok")
"""


def test_the_real_account_commands_never_import_the_sandbox():
    done = subprocess.run(
        [sys.executable, "-c", WITHOUT_MOTO], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().endswith("ok")

"""`guardian invoke`: one function of template.yaml run on a sandbox with the events in the files given,
each file one invocation's event as it is (`make invoke-<fn>`)."""

import json
import sys
from pathlib import Path

from guardian_cli.account import Endpoint, account
from guardian_cli.errors import InputError
from guardian_cli.event_files import at_its_moment, read_json


def run(function: str, files: list[Path], endpoint: Endpoint) -> int:
    """``function``: a function's directory name (ingest, sweep) or its logical id."""
    from guardian_sandbox.stack import SandboxStack
    from guardian_sandbox.template import template

    functions = template().functions()
    logical_id = next(
        (f for f, r in functions.items() if f == function or Path(r["Properties"]["CodeUri"]).name == function),
        None,
    )
    if logical_id is None:
        raise InputError(f"no function {function!r} in template.yaml (have: {', '.join(functions)})")
    events = [read_json(path) for path in files]
    status = 0
    with account(endpoint) as clients:
        stack = SandboxStack(clients).deploy()
        for event in events:
            try:
                with at_its_moment(clients, event):
                    result = stack.invoke(logical_id, event)
                print(json.dumps(result, indent=2, default=str))
            except Exception as error:  # the function's failure is what the user asked to see
                print(f"{logical_id} failed: {type(error).__name__}: {error}", file=sys.stderr)
                status = 1
    return status

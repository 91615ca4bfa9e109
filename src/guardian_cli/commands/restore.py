"""`guardian restore FINDING_ID`: bring back what remediation did to a finding's resource, from the restore
plan it recorded immediately before acting (guardian.remediation.restore), and note it in the finding's
audit trail. The call is made with the caller's credentials, against the account the stack watches."""

import json
from datetime import UTC, datetime

from guardian.remediation import CannotRestore, restore
from guardian_cli.account import TableRef, account, actor, findings_store
from guardian_cli.errors import InputError


def run(ref: TableRef, finding_id: str, fmt: str) -> int:
    now = datetime.now(UTC)
    with account(ref.endpoint, embedded_default=False) as clients:
        store = findings_store(ref, clients)
        try:
            restored = restore(clients, store, finding_id, actor(clients), now)
        except CannotRestore as error:
            raise InputError(str(error)) from error
    if fmt == "json":
        print(json.dumps(restored.as_dict()))
    else:
        print(f"{restored.finding_id} ({restored.resource_name}): undid {restored.undone}: {restored.did}")
        print(f"To keep it from being acted on again: guardian snooze {restored.finding_id} --until YYYY-MM-DD")
    return 0

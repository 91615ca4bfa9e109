"""`guardian findings` shows whether each finding's owner was reached: an admin sees which findings wait for
their owner's confirmation and whose owner nobody can reach (issue 9, item 1), on a served sandbox."""

import json

from guardian.aws import AwsClients
from guardian_sandbox.stack import SandboxStack
from tests.e2e.test_cli import run
from tests.integration.test_notify import open_finding


def test_findings_show_the_delivery_state_and_when_the_owner_was_reached(sandbox_url, capsys):
    stack = SandboxStack(
        AwsClients(region="us-east-1", endpoint_url=sandbox_url),
        parameters={"OWNER_EMAILS": json.dumps({"alice": "alice@example.com"})},
    ).deploy()
    open_finding(stack, "fraud-xgb")  # alice: subscribed, not confirmed yet
    open_finding(stack, "scratch-llm", owner="dave", space="dave-scratch")  # dave: no address at all
    stack.pump_streams()
    capsys.readouterr()  # what the functions printed (their metrics) is not the command's

    status, out, _ = run(capsys, "findings", "--endpoint-url", sandbox_url)
    header, *rows = out.splitlines()
    assert status == 0 and "STATUS  DELIVERY_STATE" in header
    states = {row.split()[3]: row.split()[7] for row in rows if row.startswith("f-")}
    assert states == {"fraud-xgb": "awaiting-confirmation", "scratch-llm": "unreachable"}

    stack.confirm_subscription("alice@example.com")
    stack.invoke("NotifyFunction", {"held": True})  # the HeldMessages schedule
    capsys.readouterr()
    _, out, _ = run(capsys, "findings", "--endpoint-url", sandbox_url, "--format", "json")
    by_name = {f["resource_name"]: f for f in json.loads(out)}
    assert by_name["fraud-xgb"]["delivery_state"] == "delivered" and by_name["fraud-xgb"]["reached_at"]
    assert (by_name["scratch-llm"]["delivery_state"], by_name["scratch-llm"]["reached_at"]) == ("unreachable", None)
    _, out, _ = run(capsys, "findings", "--endpoint-url", sandbox_url, "--format", "csv")
    assert "status,delivery_state,reached_at," in out.splitlines()[0]

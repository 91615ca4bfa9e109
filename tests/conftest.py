"""Shared fixtures: one embedded sandbox per test (moto's habit: one mock per test), the template's own
table in it, and the sample events in events/ and tests/fixtures/aws-reference (AWS's own samples)."""

import copy
import gc
import json
import logging
import os
import sys
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings

from guardian import clock as guardian_clock
from guardian.arns import canonical
from guardian.aws import AwsClients
from guardian.dynamo_inventory import DynamoInventory
from guardian.findings import Finding, finding_id
from guardian.findings_store import DynamoFindings
from guardian.observability import logger, metrics
from guardian.resource import Resource
from guardian.runtime import Guardian, from_env
from guardian_sandbox import clock as sandbox_clock
from guardian_sandbox import embedded, studio
from guardian_sandbox.simulation.bus import CloudTrailBus
from guardian_sandbox.stack import Delivery, SandboxStack
from guardian_sandbox.sts_roles import ORGANIZATION_ROLE

# Each ordering example replays a day into a fresh sandbox table: 25 per run; HYPOTHESIS_PROFILE=thorough for more.
settings.register_profile("default", max_examples=25)
settings.register_profile("thorough", max_examples=300)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))

ROOT = Path(__file__).resolve().parents[1]
EVENTS = ROOT / "events"
REFERENCE = Path(__file__).parent / "fixtures" / "aws-reference"


@pytest.hookimpl(tryfirst=True)  # before xdist's own hook reads the marks
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests that share a module- or class-scoped fixture (one demo run, say) go to the same xdist worker
    (`--dist loadgroup`, in pyproject.toml), so the fixture is made once, not once per worker."""
    for item in items:
        fixtures = getattr(item, "_fixtureinfo", None)
        definitions = fixtures.name2fixturedefs.values() if fixtures else ()
        if any(defs[-1].scope in ("module", "class") for defs in definitions):
            item.add_marker(pytest.mark.xdist_group(item.nodeid.split("::")[0]))


def pytest_collection_finish(session: pytest.Session) -> None:
    """Garbage collection took a fifth of a sandbox test's time: every moto request allocates thousands of
    objects, setting off collection after collection, and each full one walked all that collection had
    loaded (moto's and botocore's models, the modules), which lives for the whole run anyway. Freeze that
    (collections no longer look at it), and collect the youngest generation less often."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(10_000, 20, 20)


def load(path: Path) -> Any:
    return json.loads(path.read_text())


def reference(name: str) -> dict[str, Any]:
    return load(REFERENCE / name)


def sample(name: str, function: str = "ingest") -> dict[str, Any]:
    return load(EVENTS / function / name)


def sent_now(event: dict[str, Any]) -> dict[str, Any]:
    """``event`` as if AWS sent it just now: AWS's own samples are years old, and the guardian rejects an
    event older than it keeps records (guardian.ingest), so a test that wants one applied restamps it,
    each time in the format it came in (epoch milliseconds or ISO 8601)."""
    now = guardian_clock.now()

    def stamp(old: str) -> str:
        return str(int(now.timestamp() * 1000)) if old.isdigit() else now.strftime("%Y-%m-%dT%H:%M:%SZ")

    restamped = copy.deepcopy(event)
    if isinstance(restamped.get("time"), str):
        restamped["time"] = stamp(restamped["time"])
    detail = restamped.get("detail")
    if isinstance(detail, dict) and isinstance(detail.get("eventTime"), str):
        detail["eventTime"] = stamp(detail["eventTime"])
    return restamped


@pytest.fixture(autouse=True)
def _quiet_fast_sandbox(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "StudioCostGuardian")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.delenv("POWERTOOLS_METRICS_DISABLED", raising=False)  # the CLI sets it for itself
    level = logger.log_level
    monkeypatch.setattr(studio.settings, "transition_seconds", 0.0)
    yield
    guardian_clock.set_offset(timedelta(0))
    logger.setLevel(level)
    # Metrics of core calls made outside a handler would pile up and print themselves at 100 values.
    metrics.clear_metrics()


class _CurrentStdout:
    """Whatever sys.stdout is when a line is written (the logger otherwise keeps the stream it was
    created with, which is not the one pytest captures for this test)."""

    def write(self, text: str) -> int:
        return sys.stdout.write(text)

    def flush(self) -> None:
        sys.stdout.flush()


@pytest.fixture
def captured(capsys: pytest.CaptureFixture) -> Iterator[pytest.CaptureFixture]:
    """stdout as the function's log and metric lines reach CloudWatch."""
    handler = logger.registered_handler
    assert isinstance(handler, logging.StreamHandler)  # Powertools logs through a stream handler
    previous = handler.setStream(_CurrentStdout())
    yield capsys
    handler.setStream(previous)


@pytest.fixture
def sandbox() -> Iterator[AwsClients]:
    with embedded("us-east-1") as clients:
        yield clients


@pytest.fixture
def stack(sandbox: AwsClients) -> SandboxStack:
    return SandboxStack(sandbox).deploy()


@pytest.fixture
def guardian(stack: SandboxStack) -> Guardian:
    """The core as the ingest function configures it from the template, over the sandbox table."""
    return from_env(stack.environment("IngestFunction"), clients=stack.clients)


class SlackReceiver:
    """A local stand-in for Slack's incoming webhooks: records every POST body and answers with the
    statuses queued in ``replies`` (then 200 "ok"), headers included (Retry-After)."""

    def __init__(self) -> None:
        self.posts: list[dict[str, Any]] = []
        self.replies: list[tuple[int, dict[str, str]]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.posts.append({"path": self.path, "body": json.loads(body)})
                status, headers = receiver.replies.pop(0) if receiver.replies else (200, {})
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(b"ok" if status == 200 else b"no_service")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/services/T000/B000/XXXX"
        # shutdown() waits for serve_forever to look up: every 50 ms, not the default 500 ms each test paid.
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    @property
    def payloads(self) -> list[dict[str, Any]]:
        return [post["body"] for post in self.posts]


@pytest.fixture
def slack() -> Iterator[SlackReceiver]:
    receiver = SlackReceiver()
    yield receiver
    receiver.server.shutdown()


def stored_record(stack: SandboxStack, arn: str) -> Resource:
    """The inventory's record of ``arn`` in the stack's table (it must be there)."""
    found = DynamoInventory(stack.clients("dynamodb"), stack.table_name).get(canonical(arn))
    assert found is not None, arn
    return found


def stored_finding(stack: SandboxStack, rule: str, arn: str) -> Finding | None:
    """The stack's finding of ``rule`` on ``arn``, if any."""
    return DynamoFindings(stack.clients("dynamodb"), stack.table_name).get(finding_id(rule, canonical(arn)))


def deliver_recorded(stack: SandboxStack, bus: CloudTrailBus, at: datetime) -> list[tuple[dict[str, Any], Delivery]]:
    """What the sandbox recorded since last asked (CloudTrail's calls and the services' own state changes),
    delivered at ``at`` to the stack's rules as EventBridge delivers it: each event with each rule's delivery,
    every one of which must have succeeded."""
    delivered = []
    with sandbox_clock.at(stack.clients, at):
        for event in bus.new_events():
            for delivery in stack.deliver(event):
                assert delivery.error is None, delivery.error
                delivered.append((event, delivery))
    return delivered


def account_session(account: str, role: str = ORGANIZATION_ROLE, endpoint_url: str | None = None) -> Any:
    """A boto3 session in ``account`` through ``role`` (by default the role Organizations makes in each account:
    how a test seeds a member account, as its admin would)."""
    import boto3

    credentials = boto3.client("sts", region_name="us-east-1", endpoint_url=endpoint_url).assume_role(
        RoleArn=f"arn:aws:iam::{account}:role/{role}", RoleSessionName="seed"
    )["Credentials"]
    return boto3.Session(
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
    )

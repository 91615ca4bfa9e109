"""Fault injection for the delivery tests: a Slack webhook receiver that fails as Slack and networks do,
and botocore event hooks that fail AWS calls as AWS does.

What a fault means for whether the message was taken matters: the tests count what was *taken* (a post
Slack answered 200, a publish SNS committed). A fault before the call is made (throttled, a 5xx, a
connection that never got through) leaves nothing behind; an answer lost after DynamoDB committed
("commit-then-timeout") leaves the write done. A message SNS or Slack took and whose answer was then lost
is a duplicate no sender can avoid (the channel cannot be asked): the random schedules leave it out and
tests/integration/test_delivery_faults.py shows it is a duplicate, never a loss.
"""

import contextlib
import json
import socket
import struct
import threading
import time
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from botocore.exceptions import ClientError, ConnectTimeoutError, ReadTimeoutError

from guardian import aws
from guardian.runtime import forget_cached

SLACK_FAULTS = ("429", "500", "503", "reset", "disconnect", "hang")
# Faults before the call is made, by the service's own error codes; "commit-then-timeout" is after it.
BEFORE = ("throttle", "5xx", "connect-timeout")
AFTER = ("commit-then-timeout",)
ERROR_CODES = {
    "dynamodb": {"throttle": ("ThrottlingException", 400), "5xx": ("InternalServerError", 500)},
    "sns": {"throttle": ("Throttling", 400), "5xx": ("InternalError", 500)},
    "sqs": {"throttle": ("RequestThrottled", 403), "5xx": ("InternalError", 500)},
    "secretsmanager": {"throttle": ("ThrottlingException", 400), "5xx": ("InternalServiceError", 500)},
}


class FaultySlack:
    """Slack's incoming webhooks, failing on schedule: each POST takes the next fault of ``faults`` (then
    succeeds): "429" (Retry-After 1), "500", "503", "reset" (a TCP reset), "disconnect" (the connection
    closed without an answer: RemoteDisconnected), "hang" (no answer for ``hang_seconds``, then closed).
    ``posts`` is every POST; ``taken`` the ones answered 200: what reached the channel."""

    def __init__(self, hang_seconds: float = 1.0) -> None:
        self.faults: list[str | None] = []  # None: that post succeeds
        self.posts: list[dict[str, Any]] = []
        self.taken: list[dict[str, Any]] = []
        self.injected: Counter[str] = Counter()
        self.hang_seconds = hang_seconds
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with receiver._lock:
                    fault = receiver.faults.pop(0) if receiver.faults else None
                    receiver.posts.append({"path": self.path, "body": body, "fault": fault})
                    if fault:
                        receiver.injected[f"slack {fault}"] += 1
                    else:
                        receiver.taken.append({"path": self.path, "body": body})
                if fault in ("429", "500", "503"):
                    self.send_response(int(fault))
                    if fault == "429":
                        self.send_header("Retry-After", "1")
                    self.send_header("Content-Length", "10")
                    self.end_headers()
                    self.wfile.write(b"no_service")
                    return
                if fault == "hang":
                    time.sleep(receiver.hang_seconds)
                if fault == "reset":  # SO_LINGER 0: close() sends RST
                    self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                if fault:
                    self.close_connection = True
                    return
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/services/T000/B000"
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class AwsFaults:
    """Faults injected into the AWS calls of clients the functions make (botocore's before-call and
    after-call events), by the call's number per (service, operation): ``schedule[("sns", "Publish")] =
    {2: "throttle"}`` fails the second Publish before it is made. Clients in ``spare`` (the test's own) are
    left alone. ``injected`` counts what fired; ``calls`` counts every call."""

    def __init__(self, schedule: dict[tuple[str, str], dict[int, str]], spare: Any = None) -> None:
        self.schedule = schedule
        self.spare = spare
        self.calls: Counter[tuple[str, str]] = Counter()
        self.injected: Counter[str] = Counter()
        self._pending: dict[int, str] = {}  # id(context) -> an after-call fault to raise

    def _before(self, service: str) -> Any:
        def hook(model: Any, context: Any, **_: Any) -> None:
            key = (service, model.name)
            self.calls[key] += 1
            fault = self.schedule.get(key, {}).get(self.calls[key])
            if fault is None:
                return
            self.injected[f"{service}:{model.name} {fault}"] += 1
            if fault in AFTER:
                self._pending[id(context)] = fault
                return
            if fault == "connect-timeout":
                raise ConnectTimeoutError(endpoint_url=f"https://{service}.us-east-1.amazonaws.com")
            code, status = ERROR_CODES[service][fault]
            error = {"Error": {"Code": code, "Message": "injected"}, "ResponseMetadata": {"HTTPStatusCode": status}}
            raise ClientError(error, model.name)

        return hook

    def _after(self, service: str) -> Any:
        def hook(model: Any, context: Any, **_: Any) -> None:
            if self._pending.pop(id(context), None):
                raise ReadTimeoutError(endpoint_url=f"https://{service}.us-east-1.amazonaws.com")

        return hook

    @contextlib.contextmanager
    def active(self) -> Iterator["AwsFaults"]:
        original = aws.AwsClients.__call__
        hooked: dict[int, tuple[Any, Any, Any]] = {}

        def faulty_client(clients: aws.AwsClients, service: str, region: str | None = None) -> Any:
            client = original(clients, service, region)
            if clients is not self.spare and id(client) not in hooked:
                before, after = self._before(service), self._after(service)
                client.meta.events.register("before-call", before)
                client.meta.events.register("after-call", after)
                hooked[id(client)] = (client, before, after)
            return client

        aws.AwsClients.__call__ = faulty_client  # type: ignore[method-assign,assignment]
        forget_cached()  # the functions make their clients afresh, through the faulty factory
        try:
            yield self
        finally:
            aws.AwsClients.__call__ = original  # type: ignore[method-assign]
            for client, before, after in hooked.values():
                client.meta.events.unregister("before-call", before)
                client.meta.events.unregister("after-call", after)
            forget_cached()

"""Slack's incoming webhooks, played locally: a small HTTP server on 127.0.0.1 that takes every post,
answers with the status it is told to (200 by default; a simulation's `slack_status` step changes it),
and keeps what was posted where. Each channel is a path: /team, /owners/<name>."""

import json
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import quote, unquote

TEAM_PATH = "/team"
OWNER_PATH = "/owners/"


@dataclass(frozen=True)
class SlackPost:
    channel: str  # "team", or the owner's name
    body: dict[str, Any]
    status: int  # what the receiver answered

    @property
    def audience(self) -> str:
        return "team" if self.channel == "team" else "owner"

    @property
    def text(self) -> str:
        return str(self.body.get("text") or "")

    @property
    def delivered(self) -> bool:
        return 200 <= self.status < 300


class SlackReceiver:
    def __init__(self) -> None:
        self.status = 200
        self._posts: list[SlackPost] = []
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                try:
                    body = json.loads(self.rfile.read(length) or b"{}")
                except ValueError:
                    body = {}
                status = receiver.take(self.path, body if isinstance(body, dict) else {})
                self.send_response(status)
                self.end_headers()
                self.wfile.write(b"ok" if status == 200 else b"no_service")

            def log_message(self, *args: Any) -> None:
                pass  # the simulation reports posts itself

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()

    def team_url(self) -> str:
        return self.url + TEAM_PATH

    def owner_url(self, owner: str) -> str:
        return self.url + OWNER_PATH + quote(owner, safe="")

    def take(self, path: str, body: dict[str, Any]) -> int:
        channel = unquote(path[len(OWNER_PATH) :]) if path.startswith(OWNER_PATH) else "team"
        with self._lock:
            status = self.status
            self._posts.append(SlackPost(channel, body, status))
        return status

    def posts(self) -> list[SlackPost]:
        """The posts since last asked."""
        with self._lock:
            taken, self._posts = self._posts, []
        return taken

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self) -> "SlackReceiver":
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()

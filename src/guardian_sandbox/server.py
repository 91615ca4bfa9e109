"""`guardian sandbox`: the sandbox served on a local port, for anything that speaks the AWS API.

moto's server, plus routes of the sandbox's own: `POST /_sandbox/clock {"OffsetSeconds": n}`, which
sets the sandbox's clock (see clock.py) for scenarios that create resources in the past, and
`POST /_sandbox/email`, what only the sandbox can say of email subscriptions (see sns_email.py).
"""

import json
import threading
import time
from typing import Any

from moto import backends
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import make_server

from guardian_sandbox import sns_email, studio

CLOCK_PATH = "/_sandbox/clock"


class _SandboxApp:
    def __init__(self) -> None:
        self._moto = DomainDispatcherApplication(create_backend_app)

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        if environ.get("PATH_INFO") == CLOCK_PATH and environ.get("REQUEST_METHOD") == "POST":
            length = int(environ.get("CONTENT_LENGTH") or 0)
            body = json.loads(environ["wsgi.input"].read(length) or b"{}")
            studio.settings.clock_offset_seconds = float(body.get("OffsetSeconds", 0))
            start_response("200 OK", [("Content-Type", "application/json")])
            return [json.dumps({"OffsetSeconds": studio.settings.clock_offset_seconds}).encode()]
        if environ.get("PATH_INFO") == sns_email.ROUTE and environ.get("REQUEST_METHOD") == "POST":
            return sns_email.serve(environ, start_response)
        return self._moto(environ, start_response)


def _list_moto_services_once() -> None:
    """moto's dispatcher asks, for every request, whether the host names one of moto's services, by listing
    moto's package directory (and stat-ing each entry) anew: a tenth of a small request's time. The
    directory does not change while the server runs; list it once."""
    if getattr(backends.list_of_moto_modules, "_sandbox", False):
        return
    services = tuple(backends.list_of_moto_modules())

    def list_of_moto_modules() -> tuple[str, ...]:
        return services

    list_of_moto_modules._sandbox = True  # type: ignore[attr-defined]
    backends.list_of_moto_modules = list_of_moto_modules


class SandboxServer:
    def __init__(self, port: int, host: str = "127.0.0.1") -> None:
        """``port`` 0: a free port, chosen by the system (``port`` then says which)."""
        studio.install()
        _list_moto_services_once()
        self._server = make_server(host, port, _SandboxApp(), threaded=True, request_handler=MotoRequestHandler)
        self.host, self.port = host, self._server.server_port
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def __enter__(self) -> "SandboxServer":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._thread.join()

    def serve_forever(self) -> None:
        with self:
            try:
                while True:
                    time.sleep(3600)
            except KeyboardInterrupt:
                pass

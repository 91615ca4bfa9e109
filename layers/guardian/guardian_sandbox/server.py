"""`guardian sandbox`: the sandbox served on a local port, for anything that speaks the AWS API."""

import time

from moto.server import ThreadedMotoServer

from guardian_sandbox import studio


class SandboxServer:
    def __init__(self, port: int, host: str = "127.0.0.1") -> None:
        studio.install()
        self.host, self.port = host, port
        self._server = ThreadedMotoServer(ip_address=host, port=port, verbose=False)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def __enter__(self) -> "SandboxServer":
        self._server.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.stop()

    def serve_forever(self) -> None:
        with self:
            try:
                while True:
                    time.sleep(3600)
            except KeyboardInterrupt:
                pass

"""The sandbox served on a port, as a user runs it (`guardian sandbox`), shared by the module's tests."""

import socket

import pytest
import requests

from guardian_sandbox.server import SandboxServer


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def server():
    with SandboxServer(free_port()) as running:
        yield running


@pytest.fixture
def sandbox_url(server, monkeypatch):
    """A fresh account on the running sandbox (moto's reset), and credentials to sign with."""
    requests.post(f"{server.url}/moto-api/reset", timeout=10)
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.setenv(key, "sandbox")
    return server.url

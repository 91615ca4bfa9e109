"""The sandbox served on a port, as a user runs it (`guardian sandbox`), shared by the module's tests."""

import pytest
import requests

from guardian_sandbox.server import SandboxServer


@pytest.fixture(scope="session")
def server():
    # Port 0: the system picks a free port as the server binds it, so xdist's workers never race for one.
    with SandboxServer(0) as running:
        yield running


@pytest.fixture
def sandbox_url(server, monkeypatch):
    """A fresh account on the running sandbox (moto's reset), and credentials to sign with."""
    requests.post(f"{server.url}/moto-api/reset", timeout=10)
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.setenv(key, "sandbox")
    return server.url

"""botocore's service data, read once per process. Each boto3 session reads its service models and the
endpoint tables (endpoints.json alone is megabytes of JSON) afresh, through a loader of its own; a
Lambda container makes one session and keeps it, but the sandbox makes one for every sandbox (every test)
and one for every function it runs in-process, and spent most of a short test's time parsing JSON.
Here every session shares one loader per search path, whose cache botocore already treats as read-only
(the clients of one session share it)."""

import threading

import botocore.session
from botocore.loaders import Loader, create_loader

_lock = threading.Lock()
_loaders: dict[str | None, Loader] = {}


def _shared_loader(search_path_string: str | None = None) -> Loader:
    with _lock:
        if search_path_string not in _loaders:
            _loaders[search_path_string] = create_loader(search_path_string)
        return _loaders[search_path_string]


def install() -> None:
    """Make every botocore session made from now on share the loader for its search path (idempotent)."""
    botocore.session.create_loader = _shared_loader

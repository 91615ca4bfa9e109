"""botocore's service data, read once per process. Each boto3 session reads its service models and the
endpoint tables (endpoints.json alone is megabytes of JSON) afresh, through a loader of its own; a
Lambda container makes one session and keeps it, but the sandbox makes one for every sandbox (every test)
and one for every function it runs in-process, and spent most of a short test's time parsing JSON.

Here every loader keeps what it loads in a cache shared with every other loader that searches the same
paths: the same files, so the same data, which botocore already treats as read-only (the clients of one
session share it)."""

import os
from typing import Any

import botocore.session
from botocore.loaders import Loader

_caches: dict[tuple[tuple[str, ...], tuple[str, ...]], dict[Any, Any]] = {}


class _SharedCacheLoader(Loader):
    """botocore's Loader, whose cached methods (``instance_cache``) read and fill ``self._cache``: here the
    cache of its search paths (a boto3 session appends its own data directory to them after creation)."""

    @property
    def _cache(self) -> dict[Any, Any]:
        return _caches.setdefault((tuple(self.search_paths), tuple(self.extras_types)), {})

    @_cache.setter
    def _cache(self, _: dict[Any, Any]) -> None:
        """Loader.__init__ gives each loader a cache of its own; the shared one is used instead."""


def _create_loader(search_path_string: str | None = None) -> Loader:
    """botocore.loaders.create_loader, making a loader with the shared cache."""
    if search_path_string is None:
        return _SharedCacheLoader()
    paths = [os.path.expanduser(os.path.expandvars(path)) for path in search_path_string.split(os.pathsep)]
    return _SharedCacheLoader(extra_search_paths=paths)


def install() -> None:
    """Make every botocore session made from now on load its data through a shared cache (idempotent)."""
    botocore.session.create_loader = _create_loader

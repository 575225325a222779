"""A file registry store that never corrupts and never silently loses an apply.

Feast's ``FileRegistryStore`` rewrites ``registry.db`` in place (a reader can see a
truncated file) and is last-writer-wins (of two concurrent ``feast apply`` runs, the
first one's changes vanish without a word). This store keeps Feast's file format and
location, and changes two things:

- writes go to a temporary file that is renamed over the registry, so a reader sees
  either the old registry or the new one;
- writes are optimistic: the store remembers the ``version_id`` it last read or wrote,
  and, under an exclusive lock, refuses to write when another writer changed the file
  in between (``ConcurrentRegistryUpdateError``: nothing is written, run the apply again;
  ``featurestore apply`` serializes applies and retries by itself).

Name it in ``feature_store.yaml``::

    registry:
      registry_type: file
      path: ../data/registry.db
      registry_store_type: featurestore.feast_plugins.registry_store.LockedFileRegistryStore
"""

from __future__ import annotations

import fcntl
import os
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from feast.infra.registry.file import FileRegistryStore
from feast.protos.feast.core.Registry_pb2 import Registry as RegistryProto
from feast.repo_config import RegistryConfig
from feast.utils import _utc_now

from featurestore.errors import ConcurrentRegistryUpdateError

_UNREAD = object()


def registry_file(registry_config: RegistryConfig, repo_path: Path) -> Path:
    path = Path(registry_config.path)
    return path if path.is_absolute() else repo_path / path


@contextmanager
def exclusive_lock(path: Path) -> Iterator[None]:
    """An exclusive ``flock`` on ``path`` (created if needed), released on exit."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _read_version(path: Path) -> str | None:
    """The registry's ``version_id``, or None when there is no registry file."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    proto = RegistryProto()
    proto.ParseFromString(data)
    return str(proto.version_id)


class LockedFileRegistryStore(FileRegistryStore):
    """Feast's file registry store with atomic, conflict-checked writes."""

    def __init__(self, registry_config: RegistryConfig, repo_path: Path) -> None:
        super().__init__(registry_config, repo_path)
        self._path = registry_file(registry_config, repo_path)
        self._lock = self._path.with_name(self._path.name + ".lock")
        self._seen: object | str | None = _UNREAD

    def get_registry_proto(self) -> RegistryProto:
        proto = RegistryProto()
        try:
            data = self._path.read_bytes()
        except FileNotFoundError:
            self._seen = None
            raise FileNotFoundError(
                f'Registry not found at path "{self._path}". Have you run "feast apply"?'
            ) from None
        proto.ParseFromString(data)
        self._seen = str(proto.version_id)
        return proto

    def update_registry_proto(self, registry_proto: RegistryProto) -> None:
        with exclusive_lock(self._lock):
            current = _read_version(self._path)
            if self._seen is not _UNREAD and current != self._seen:
                raise ConcurrentRegistryUpdateError(str(self._path), self._seen, current)
            registry_proto.version_id = str(uuid.uuid4())
            registry_proto.last_updated.FromDatetime(_utc_now())
            self._write_atomically(registry_proto.SerializeToString())
            self._seen = str(registry_proto.version_id)

    def _write_atomically(self, data: bytes) -> None:
        self._path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{self._path.name}.", dir=self._path.parent)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, self._path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def _write_registry(self, registry_proto: RegistryProto) -> None:
        self.update_registry_proto(registry_proto)

    def teardown(self) -> None:
        with exclusive_lock(self._lock):
            self._path.unlink(missing_ok=True)
            self._seen = None

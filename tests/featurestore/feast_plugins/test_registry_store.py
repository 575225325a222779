"""Our registry store: atomic writes, and a concurrent apply is refused, not lost.

Feast's own FileRegistryStore is last-writer-wins: the test named after that bug shows
the first of two concurrent writers' changes vanishing.
"""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from feast.infra.registry.file import FileRegistryStore
from feast.protos.feast.core.FeatureService_pb2 import FeatureService as FeatureServiceProto
from feast.protos.feast.core.Registry_pb2 import Registry as RegistryProto
from feast.repo_config import RegistryConfig

from featurestore.errors import ConcurrentRegistryUpdateError
from featurestore.feast_plugins.registry_store import LockedFileRegistryStore


def _config(path: Path) -> RegistryConfig:
    return RegistryConfig(path=str(path))


def _with_service(proto: RegistryProto, name: str) -> RegistryProto:
    copy = RegistryProto()
    copy.CopyFrom(proto)
    service = FeatureServiceProto()
    service.spec.name = name
    service.spec.project = "flights"
    copy.feature_services.append(service)
    return copy


def _services(path: Path) -> set[str]:
    proto = RegistryProto()
    proto.ParseFromString(path.read_bytes())
    return {s.spec.name for s in proto.feature_services}


def _seed(store_type: type[FileRegistryStore], path: Path) -> None:
    store_type(_config(path), path.parent).update_registry_proto(RegistryProto())


def test_feast_file_registry_loses_a_concurrent_apply(tmp_path: Path) -> None:
    """Feast bug: two writers that read the same registry; the first one's change is lost."""
    path = tmp_path / "registry.db"
    _seed(FileRegistryStore, path)
    first, second = (FileRegistryStore(_config(path), tmp_path) for _ in range(2))
    base_1, base_2 = first.get_registry_proto(), second.get_registry_proto()
    first.update_registry_proto(_with_service(base_1, "model_a"))
    second.update_registry_proto(_with_service(base_2, "model_b"))
    assert _services(path) == {"model_b"}  # model_a is silently gone


def test_ours_refuses_the_second_writer_and_keeps_the_first(tmp_path: Path) -> None:
    path = tmp_path / "registry.db"
    _seed(LockedFileRegistryStore, path)
    first, second = (LockedFileRegistryStore(_config(path), tmp_path) for _ in range(2))
    base_1, base_2 = first.get_registry_proto(), second.get_registry_proto()
    first.update_registry_proto(_with_service(base_1, "model_a"))
    with pytest.raises(ConcurrentRegistryUpdateError, match="changed by another writer"):
        second.update_registry_proto(_with_service(base_2, "model_b"))
    assert _services(path) == {"model_a"}
    # Re-reading and writing again (what a re-run of the apply does) keeps both.
    second.update_registry_proto(_with_service(second.get_registry_proto(), "model_b"))
    assert _services(path) == {"model_a", "model_b"}


def test_a_writer_may_commit_several_times(tmp_path: Path) -> None:
    path = tmp_path / "registry.db"
    store = LockedFileRegistryStore(_config(path), tmp_path)
    with pytest.raises(FileNotFoundError):
        store.get_registry_proto()
    store.update_registry_proto(_with_service(RegistryProto(), "a"))
    store.update_registry_proto(_with_service(store.get_registry_proto(), "b"))
    store.update_registry_proto(_with_service(RegistryProto(), "c"))  # no re-read needed
    assert _services(path) == {"c"}


def test_a_registry_created_meanwhile_is_a_conflict(tmp_path: Path) -> None:
    path = tmp_path / "registry.db"
    late = LockedFileRegistryStore(_config(path), tmp_path)
    with pytest.raises(FileNotFoundError):
        late.get_registry_proto()
    _seed(LockedFileRegistryStore, path)
    with pytest.raises(ConcurrentRegistryUpdateError):
        late.update_registry_proto(_with_service(RegistryProto(), "x"))


def test_readers_never_see_a_partial_registry(tmp_path: Path) -> None:
    path = tmp_path / "registry.db"
    writer = LockedFileRegistryStore(_config(path), tmp_path)
    big = RegistryProto()
    for i in range(2000):
        big = _with_service(big, f"model_{i:04d}") if i % 400 == 0 else big
        service = big.feature_services.add()
        service.spec.name = f"s{i}"
    writer.update_registry_proto(big)
    failures: list[Exception] = []
    sizes: set[int] = set()
    stop = threading.Event()

    def read() -> None:
        reader = LockedFileRegistryStore(_config(path), tmp_path)
        while not stop.is_set():
            try:
                sizes.add(len(reader.get_registry_proto().feature_services))
            except Exception as exc:  # a truncated file fails to parse or comes back short
                failures.append(exc)

    thread = threading.Thread(target=read)
    thread.start()
    try:
        for _ in range(50):
            writer.update_registry_proto(writer.get_registry_proto())
    finally:
        stop.set()
        thread.join()
    assert not failures
    assert sizes == {len(big.feature_services)}

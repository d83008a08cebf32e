"""What ArchiveWriter refuses, and how it behaves with threads and failures."""

from __future__ import annotations

import hashlib
import io
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import orjson
import pytest

from ark import archive
from tests.archive.crafting import add_config_map, config_map


def test_duplicate_item_is_refused_by_path() -> None:
    with archive.ArchiveWriter(io.BytesIO(), backup_name="b") as writer:
        add_config_map(writer, "a")
        with pytest.raises(archive.DuplicateItem, match=r"configmaps/namespaces/web/a\.json"):
            add_config_map(writer, "a")
        add_config_map(writer, "a", namespace="other")
    assert writer.manifest.total_items == 2


def test_a_batch_refuses_its_bad_items_and_adds_the_rest_in_order() -> None:
    with archive.ArchiveWriter(io.BytesIO(), backup_name="b") as writer:
        add_config_map(writer, "taken")
        outcomes = writer.add_items(
            resource="configmaps",
            group="",
            version="v1",
            kind="ConfigMap",
            items=[
                archive.NewItem("web", "a", config_map("a")),
                archive.NewItem("web", "taken", config_map("taken")),
                archive.NewItem("web", "../x", b"{}"),
                archive.NewItem("web", "a", config_map("a")),  # twice in one batch
                archive.NewItem("Web", "b", b"{}"),
                archive.NewItem("other", "a", config_map("a")),
            ],
        )
    kinds = [type(outcome).__name__ for outcome in outcomes]
    assert kinds == [
        "ItemRecord",
        "DuplicateItem",
        "InvalidName",
        "DuplicateItem",
        "InvalidName",
        "ItemRecord",
    ]
    first, last = outcomes[0], outcomes[-1]
    assert isinstance(first, archive.ItemRecord) and isinstance(last, archive.ItemRecord)
    assert (first.namespace, first.name, last.namespace) == ("web", "a", "other")
    assert first.sha256 == hashlib.sha256(config_map("a")).hexdigest()
    assert [item.path for item in writer.manifest.items] == [
        "resources/configmaps/namespaces/web/taken.json",
        "resources/configmaps/namespaces/web/a.json",
        "resources/configmaps/namespaces/other/a.json",
    ]
    assert writer.manifest.counts == {"configmaps": 3}


def test_a_batch_of_a_resource_that_cannot_be_a_path_adds_nothing() -> None:
    writer = archive.ArchiveWriter(io.BytesIO(), backup_name="b")
    with pytest.raises(archive.InvalidName, match="invalid resource"):
        writer.add_items(
            resource="Config/Maps",
            group="",
            version="v1",
            kind="ConfigMap",
            items=[archive.NewItem("web", "a", b"{}")],
        )
    assert writer.close().total_items == 0


def test_one_resource_one_api_version() -> None:
    with archive.ArchiveWriter(io.BytesIO(), backup_name="b") as writer:
        add_config_map(writer, "a")
        with pytest.raises(archive.ArchiveError, match="v1beta1/ConfigMap after v1/ConfigMap"):
            writer.add_item(
                resource="configmaps",
                group="",
                version="v1beta1",
                kind="ConfigMap",
                namespace="web",
                name="b",
                data=config_map("b"),
            )


@pytest.mark.parametrize(
    ("field", "value", "what"),
    [
        ("namespace", "Web", "namespace"),
        ("name", "../x", "object name"),
        ("name", "..", "object name"),
        ("resource", "Config/Maps", "resource"),
        ("group", "a..b", "API group"),
        ("version", "1", "API version"),
        ("kind", "Config-Map", "kind"),
    ],
)
def test_names_that_cannot_be_paths(field: str, value: str, what: str) -> None:
    item: dict[str, str] = {
        "resource": "configmaps",
        "group": "",
        "version": "v1",
        "kind": "ConfigMap",
        "namespace": "web",
        "name": "a",
    }
    item[field] = value
    writer = archive.ArchiveWriter(io.BytesIO(), backup_name="b")
    with pytest.raises(archive.InvalidName, match=f"invalid {what}"):
        writer.add_item(**item, data=b"{}")


def test_invalid_backup_name() -> None:
    with pytest.raises(archive.InvalidName, match="backup name"):
        archive.ArchiveWriter(io.BytesIO(), backup_name="Nightly")


def test_no_items_after_close_and_close_is_idempotent() -> None:
    writer = archive.ArchiveWriter(io.BytesIO(), backup_name="b")
    manifest = writer.close()
    assert writer.close() is manifest
    with pytest.raises(archive.WriterClosed, match="already closed"):
        add_config_map(writer, "a")


def test_manifest_is_only_there_after_close() -> None:
    writer = archive.ArchiveWriter(io.BytesIO(), backup_name="b")
    with pytest.raises(archive.WriterClosed, match="not closed yet"):
        _ = writer.manifest
    writer.close()


class _FailingSink:
    def __init__(self, after: int) -> None:
        self.left = after
        self.data = bytearray()

    def write(self, data: bytes) -> int:
        if self.left <= 0:
            raise OSError("upload failed")
        self.left -= 1
        self.data += data
        return len(data)


def test_a_failing_sink_fails_the_writer_for_good() -> None:
    writer = archive.ArchiveWriter(_FailingSink(after=2), backup_name="b", compress_level=0)
    with pytest.raises(OSError, match="upload failed"):
        for i in range(1000):
            writer.add_item(
                resource="configmaps",
                group="",
                version="v1",
                kind="ConfigMap",
                namespace="web",
                name=f"c{i}",
                data=b"x" * 10_000,
            )
    with pytest.raises(archive.WriterClosed, match="failed writing"):
        add_config_map(writer, "late")
    with pytest.raises(archive.WriterClosed):
        writer.close()


def test_concurrent_add_item_from_threads(spool_dir: Path) -> None:
    sink = io.BytesIO()
    start = threading.Barrier(8)

    def work(worker: int) -> list[str]:
        start.wait()
        paths: list[str] = []
        for i in range(500):
            name = f"w{worker}-{i}"
            body = orjson.dumps(
                {
                    "apiVersion": "v1",
                    "kind": "ConfigMap",
                    "metadata": {"name": name, "namespace": "web"},
                    "pad": "x" * i,
                }
            )
            paths.append(
                writer.add_item(
                    resource="configmaps",
                    group="",
                    version="v1",
                    kind="ConfigMap",
                    namespace="web",
                    name=name,
                    data=body,
                ).path
            )
        return paths

    with archive.ArchiveWriter(sink, backup_name="b") as writer, ThreadPoolExecutor(8) as pool:
        written = [path for paths in pool.map(work, range(8)) for path in paths]
    assert writer.manifest.total_items == len(written) == 4000
    with archive.spool(
        io.BytesIO(sink.getvalue()), spool_dir=spool_dir, manifest=writer.manifest
    ) as index:
        assert index.verified
        assert sorted(item.path for item in index) == sorted(written)
        for item in index:
            assert orjson.loads(index.read(item))["metadata"]["name"] == item.name


def test_concurrent_duplicates_keep_exactly_one() -> None:
    errors: list[Exception] = []

    def add(_: int) -> None:
        try:
            add_config_map(writer, "same")
        except archive.DuplicateItem as exc:
            errors.append(exc)

    with (
        archive.ArchiveWriter(io.BytesIO(), backup_name="b") as writer,
        ThreadPoolExecutor(8) as pool,
    ):
        list(pool.map(add, range(32)))
    assert writer.manifest.total_items == 1
    assert len(errors) == 31


def test_has_item_answers_for_what_was_added() -> None:
    with archive.ArchiveWriter(io.BytesIO(), backup_name="b") as writer:
        add_config_map(writer, "a")

        def has(name: str, namespace: str | None = "web", resource: str = "configmaps") -> bool:
            return writer.has_item(resource=resource, group="", namespace=namespace, name=name)

        assert has("a")
        assert not has("a", namespace="other")
        assert not has("a", namespace=None)
        assert not has("a", resource="secrets")
        assert not has("b")
        assert not has("x/y")  # cannot be a path, so never added

"""Progress a backup reports while it runs: a resource's items are counted into the total
before any of them is written, done never passes the total, and the two meet at the end."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from ark import backup
from ark.api import BackupPhase, BackupSpec, LabelSelector
from ark.backup import engine
from ark.kube import KubeClient
from ark.storage import ObjectStore

CONFIGMAPS = 1200


@pytest.fixture
def many(kube: KubeClient, namespace: str) -> str:
    def one(i: int) -> None:
        kube.request(
            "POST",
            f"/api/v1/namespaces/{namespace}/configmaps",
            body={"metadata": {"name": f"cm-{i:04d}", "labels": {"half": str(i % 2)}}},
        )

    with ThreadPoolExecutor(16) as pool:
        list(pool.map(one, range(CONFIGMAPS)))
    return namespace


@pytest.mark.parametrize(
    "selector",
    [None, LabelSelector(match_labels={"half": "1"})],
    ids=["counted", "label-selected"],
)
def test_progress_never_runs_ahead_of_its_total(
    kube: KubeClient,
    fs_store: ObjectStore,
    many: str,
    selector: LabelSelector | None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(engine, "PROGRESS_INTERVAL", 0.0)  # report every page
    reports: list[backup.Progress] = []
    result = backup.run(
        kube,
        fs_store,
        name="progress",
        spec=BackupSpec(included_namespaces=[many], label_selector=selector),
        on_progress=reports.append,
        page_size=100,
    )
    assert result.phase == BackupPhase.COMPLETED, [str(e) for e in result.issues.errors]
    assert len(reports) > 10
    assert all(r.items_backed_up <= r.total_items for r in reports)
    last = reports[-1]
    assert last.items_backed_up == last.total_items == result.progress.items_backed_up
    configmaps = [r for r in reports if r.current_resource == "configmaps" and r.items_backed_up]
    if selector is None:  # the server counts them: all known before the first is written
        assert configmaps and all(r.total_items >= CONFIGMAPS for r in configmaps)
    else:  # it cannot count label-selected lists: the total grows as they come
        assert result.per_resource["configmaps"] == CONFIGMAPS // 2

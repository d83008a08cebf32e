"""Many objects fast: parallel POSTs (the kill test needs a backup that takes a while)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from ark.kube import KubeClient

PAYLOAD = "x" * 2048


def create_configmaps(
    kube: KubeClient, namespace: str, count: int, *, workers: int = 48, payload: str = PAYLOAD
) -> None:
    def one(i: int) -> None:
        kube.request(
            "POST",
            f"/api/v1/namespaces/{namespace}/configmaps",
            body={
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": f"bulk-{i:05d}", "labels": {"bulk": "true"}},
                "data": {"payload": payload, "index": str(i)},
            },
        )

    with ThreadPoolExecutor(max_workers=workers) as pool:
        list(pool.map(one, range(count)))

"""API throttling: API Priority and Fairness gives the operator's ServiceAccount a tiny share
of the API server (one concurrency share, requests beyond it rejected with 429), and N/10
backups and N/10 restores still end Completed and whole: every 429 is waited out."""

from __future__ import annotations

import re
import uuid
from pathlib import Path

import orjson
import yaml

from ark.kube import KubeClient
from ark.storage import ObjectStore
from tests.conftest import Cluster
from tests.operator.harness import Operator
from tests.reliability import workload
from tests.reliability.ledger import row, runs
from tests.reliability.workload import BACKUP, RESTORE, Source

TIMEOUT = 300.0
FLOWCONTROL = "/apis/flowcontrol.apiserver.k8s.io/v1"
_REJECTED = re.compile(
    r'^apiserver_flowcontrol_rejected_requests_total\{[^}]*priority_level="(?P<level>[^"]+)"'
    r"[^}]*\} (?P<count>[0-9.e+]+)$",
    re.MULTILINE,
)


def _token_kubeconfig(cluster: Cluster, kube: KubeClient, namespace: str, path: Path) -> str:
    """A kubeconfig of a new ServiceAccount bound to cluster-admin (the operator's rights are
    not what is tested here, its share of the server is)."""
    kube.request(
        "POST",
        f"/api/v1/namespaces/{namespace}/serviceaccounts",
        body={"metadata": {"name": "ark-throttled"}},
    )
    kube.request(
        "POST",
        "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings",
        body={
            "metadata": {"name": f"ark-throttled-{namespace}"},
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "ClusterRole",
                "name": "cluster-admin",
            },
            "subjects": [
                {"kind": "ServiceAccount", "name": "ark-throttled", "namespace": namespace}
            ],
        },
    )
    issued = orjson.loads(
        kube.request(
            "POST",
            f"/api/v1/namespaces/{namespace}/serviceaccounts/ark-throttled/token",
            body={"spec": {"expirationSeconds": 3600}},
        )
    )
    admin = yaml.safe_load(Path(cluster.kubeconfig).read_text())
    admin["users"] = [{"name": "throttled", "user": {"token": issued["status"]["token"]}}]
    for context in admin["contexts"]:
        context["context"]["user"] = "throttled"
    path.write_text(yaml.safe_dump(admin))
    return str(path)


def _tiny_share(kube: KubeClient, namespace: str) -> str:
    level = f"ark-tiny-{uuid.uuid4().hex[:6]}"
    kube.request(
        "POST",
        f"{FLOWCONTROL}/prioritylevelconfigurations",
        body={
            "metadata": {"name": level},
            "spec": {
                "type": "Limited",
                "limited": {
                    "nominalConcurrencyShares": 1,
                    "lendablePercent": 0,
                    "limitResponse": {"type": "Reject"},
                },
            },
        },
    )
    kube.request(
        "POST",
        f"{FLOWCONTROL}/flowschemas",
        body={
            "metadata": {"name": level},
            "spec": {
                "priorityLevelConfiguration": {"name": level},
                "matchingPrecedence": 500,
                "distinguisherMethod": {"type": "ByUser"},
                "rules": [
                    {
                        "subjects": [
                            {
                                "kind": "ServiceAccount",
                                "serviceAccount": {"name": "ark-throttled", "namespace": namespace},
                            }
                        ],
                        "resourceRules": [
                            {
                                "verbs": ["*"],
                                "apiGroups": ["*"],
                                "resources": ["*"],
                                "clusterScope": True,
                                "namespaces": ["*"],
                            }
                        ],
                        "nonResourceRules": [{"verbs": ["*"], "nonResourceURLs": ["*"]}],
                    }
                ],
            },
        },
    )
    return level


def _rejected(kube: KubeClient, level: str) -> int:
    text = kube.request("GET", "/metrics").decode()
    return int(sum(float(m["count"]) for m in _REJECTED.finditer(text) if m["level"] == level))


def test_a_tiny_share_of_the_api_server_is_waited_out(
    kube: KubeClient,
    cluster: Cluster,
    op_namespace: str,
    default_bsl: str,
    operator: Operator,
    store: ObjectStore,
    source: Source,
    tmp_path: Path,
) -> None:
    ledger = row("API throttled (APF: one share, 429s)")
    level = _tiny_share(kube, op_namespace)
    try:
        operator.stop()
        operator.kubeconfig = _token_kubeconfig(cluster, kube, op_namespace, tmp_path / "sa")
        operator.extra = {**operator.extra, "--backup-workers": "8"}
        operator.start()
        before = _rejected(kube, level)
        half = max(runs() // 10, 1)
        for i in range(half):
            name = f"throttled-{i}-{uuid.uuid4().hex[:4]}"
            workload.create(
                kube, BACKUP, op_namespace, name, {"includedNamespaces": source.namespaces}
            )
            ledger.attempted += 1
            obj = workload.wait_terminal(kube, BACKUP, op_namespace, name, timeout=TIMEOUT)
            workload.judge_backup(ledger, store, obj, source, tmp_path / name)
            mapping = {ns: f"{ns}-t{i}" for ns in source.namespaces}
            restore = f"throttled-{i}-{uuid.uuid4().hex[:4]}"
            spec = {"backupName": name, "namespaceMapping": mapping}
            workload.create(kube, RESTORE, op_namespace, restore, spec)
            ledger.attempted += 1
            got = workload.wait_terminal(kube, RESTORE, op_namespace, restore, timeout=TIMEOUT)
            workload.judge_restore(ledger, cluster, store, got, source, mapping)
            workload.delete_namespaces(kube, mapping.values())
        ledger.faults += _rejected(kube, level) - before
        ledger.mid_run = ledger.faults
    finally:
        for kind in ("flowschemas", "prioritylevelconfigurations"):
            kube.delete_if_present(f"{FLOWCONTROL}/{kind}/{level}")
        kube.delete_if_present(
            f"/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/ark-throttled-{op_namespace}"
        )
    ledger.assert_nothing_lost()
    assert ledger.faults > 0, "the API server rejected none of the operator's requests"

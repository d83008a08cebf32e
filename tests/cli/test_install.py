"""``ark install``: the YAML it would apply (--dry-run, Secrets redacted), and a real install
into a namespace with a kustomize base of its own, then ``ark version``."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
import yaml

from ark import control
from ark.kube import KubeClient
from tests.cli.conftest import Ark
from tests.conftest import S3Server
from tests.operator.conftest import credentials_file

SECRET_TEXT = "aws_secret_access_key = do-not-print-me\n"

BASE = {
    "kustomization.yaml": """
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
namespace: ark-system
commonLabels:
  app.kubernetes.io/name: ark
images:
  - name: ghcr.io/example/ark
    newTag: "1.2.3"
resources:
  - rbac
  - operator.yaml
""",
    "rbac/kustomization.yaml": "resources: [rbac.yaml]\n",
    "rbac/rbac.yaml": """
apiVersion: v1
kind: ServiceAccount
metadata: {name: ark}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: ark}
rules: [{apiGroups: [ark.dev], resources: ["*"], verbs: ["*"]}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: ark}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: ark}
subjects: [{kind: ServiceAccount, name: ark, namespace: ark-system}]
""",
    "operator.yaml": """
apiVersion: apps/v1
kind: Deployment
metadata: {name: ark, annotations: {ark.dev/version: "1.2.3"}}
spec:
  replicas: 1
  selector: {matchLabels: {app: ark}}
  template:
    metadata: {labels: {app: ark}}
    spec:
      serviceAccountName: ark
      containers:
        - name: operator
          image: ghcr.io/example/ark:latest
          command: [python, -m, ark.operator]
""",
}


@pytest.fixture
def base_dir(tmp_path: Path) -> Path:
    root = tmp_path / "deploy"
    for name, text in BASE.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


def install_args(base_dir: Path, secret: Path, bucket: str = "backups") -> list[str]:
    return [
        "install",
        "--deploy-dir", str(base_dir),
        "--provider", "aws",
        "--bucket", bucket,
        "--prefix", "cluster-a",
        "--config", "region=minio,s3ForcePathStyle=true",
        "--secret-file", str(secret),
    ]  # fmt: skip


def test_dry_run_prints_every_object_in_the_namespace_and_redacts_the_secret(
    ark: Ark, ark_ns: str, base_dir: Path, tmp_path: Path
) -> None:
    secret = tmp_path / "creds"
    secret.write_text(SECRET_TEXT)
    result = ark.ok(*install_args(base_dir, secret), "--dry-run")
    assert "do-not-print-me" not in result.out + result.err
    assert base64.b64encode(SECRET_TEXT.encode()).decode() not in result.out
    docs = list(yaml.safe_load_all(result.out))
    kinds = [d["kind"] for d in docs]
    assert kinds.count("CustomResourceDefinition") == 6
    assert kinds[6:] == [
        "Namespace", "ServiceAccount", "Role", "RoleBinding", "Deployment",
        "Secret", "BackupStorageLocation",
    ]  # fmt: skip
    by_kind = {d["kind"]: d for d in docs}
    assert by_kind["Namespace"]["metadata"]["name"] == ark_ns
    assert by_kind["Deployment"]["metadata"]["namespace"] == ark_ns
    assert by_kind["RoleBinding"]["subjects"][0]["namespace"] == ark_ns
    container = by_kind["Deployment"]["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == "ghcr.io/example/ark:1.2.3"
    assert by_kind["Deployment"]["metadata"]["labels"] == {"app.kubernetes.io/name": "ark"}
    assert by_kind["Secret"]["data"] == {"cloud": "<redacted>"}
    bsl = by_kind["BackupStorageLocation"]
    assert bsl["spec"]["default"] is True
    assert bsl["spec"]["credential"] == {"name": "ark-credentials", "key": "cloud"}
    assert bsl["spec"]["objectStorage"] == {"bucket": "backups", "prefix": "cluster-a"}


def test_install_applies_everything_twice_and_version_sees_it(
    ark: Ark,
    kube: KubeClient,
    ark_ns: str,
    base_dir: Path,
    tmp_path: Path,
    minio: S3Server,
    s3_bucket: str,
) -> None:
    secret = tmp_path / "creds"
    secret.write_text(credentials_file(minio))
    args = install_args(base_dir, secret, s3_bucket)
    args[args.index("--config") + 1] += f",s3Url={minio.endpoint}"
    first = ark.ok(*args)
    assert f"ark installed in namespace {ark_ns}" in first.out
    ark.ok(*args)  # again: server-side apply updates in place
    stored = kube.get(f"/api/v1/namespaces/{ark_ns}/secrets/ark-credentials")["data"]["cloud"]
    assert base64.b64decode(stored).decode() == credentials_file(minio)
    bsl = control.get(kube, control.BSL, ark_ns, "default")
    assert bsl is not None and bsl["spec"]["objectStorage"]["bucket"] == s3_bucket
    deployment = kube.get(f"/apis/apps/v1/namespaces/{ark_ns}/deployments/ark")
    assert deployment["spec"]["template"]["spec"]["serviceAccountName"] == "ark"
    version = ark.ok("version").out
    assert "Server: Kubernetes v" in version
    assert "CRDs:   installed" in version
    assert "Operator: ark in" in version and "version 1.2.3" in version
    assert "ghcr.io/example/ark:1.2.3" in version
    assert "minio" not in version and "secret" not in version.lower()


def test_install_flag_errors(ark: Ark, base_dir: Path) -> None:
    result = ark("install", "--deploy-dir", str(base_dir), "--provider", "aws", "--dry-run")
    assert result.code == 2 and result.err_lines == ["ark: --provider and --bucket go together"]
    result = ark("install", "--deploy-dir", str(base_dir), "--provider", "fs", "--bucket", "rel",
                 "--dry-run")  # fmt: skip
    assert result.code == 2 and "absolute directory" in result.err


def test_the_repositorys_base_renders(ark: Ark, ark_ns: str) -> None:
    docs = list(yaml.safe_load_all(ark.ok("install", "--dry-run").out))
    namespaced = [d for d in docs if d["metadata"].get("namespace")]
    assert namespaced and all(d["metadata"]["namespace"] == ark_ns for d in namespaced)
    assert any(d["kind"] == "Deployment" for d in docs)
    crds = [d["metadata"]["name"] for d in docs if d["kind"] == "CustomResourceDefinition"]
    assert len(crds) == len(set(crds)) == 6  # deploy/base lists them too: applied once

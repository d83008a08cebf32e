"""The Helm chart deploy/helm/ark, rendered by the real helm (v4, built from its Go module):
with default values it is, object for object, what ``ark install`` applies; with location values,
what ``ark install --provider --bucket --secret-file`` applies; its CRDs are deploy/base's; a bad
value is refused by its schema; and what it renders is accepted by the API server."""

from __future__ import annotations

import base64
import contextlib
import os
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from ark.api import crdgen
from ark.cli import install
from ark.kube import KubeClient, KubeError, discover
from tests.conftest import NamespaceFactory
from tests.support import localenv
from tests.support.installed import CLUSTER_WIDE
from tests.support.localenv import ROOT

CHART = ROOT / "deploy" / "helm" / "ark"
NAMESPACE = "ark-helm"
CREDENTIALS = "[default]\naws_access_key_id = AKIA\naws_secret_access_key = do-not-print-me\n"
LOCATION = {
    "backupStorageLocation.provider": "aws",
    "backupStorageLocation.bucket": "backups",
    "backupStorageLocation.prefix": "cluster-a",
    "backupStorageLocation.config.region": "eu-west-1",
    "backupStorageLocation.config.s3Url": "https://s3.example.com",
}
INSTALL_LOCATION = [
    "--provider=aws",
    "--bucket=backups",
    "--prefix=cluster-a",
    "--config=region=eu-west-1,s3Url=https://s3.example.com",
]


Obj = dict[str, Any]


@pytest.fixture(scope="module")
def helm() -> Path:
    return localenv.helm()


def _helm(helm: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HELM_", "KUBECONFIG"))}
    return subprocess.run(
        [str(helm), *args], capture_output=True, text=True, check=False, env=env, cwd=ROOT
    )


def _template(helm: Path, *flags: str, namespace: str = NAMESPACE) -> list[Obj]:
    done = _helm(
        helm, "template", "ark", str(CHART), "--namespace", namespace, "--include-crds", *flags
    )
    assert done.returncode == 0, done.stderr
    return [d for d in yaml.safe_load_all(done.stdout) if d]


def _install(*flags: str, namespace: str = NAMESPACE) -> list[Obj]:
    """What ``ark install`` would apply (its --dry-run), but the Namespace: Helm installs into a
    namespace that exists (or that ``helm install --create-namespace`` creates)."""
    ark = Path(sys.executable).parent / "ark"
    env = {k: v for k, v in os.environ.items() if not k.startswith("ARK_")}
    done = subprocess.run(
        [str(ark), "install", "--dry-run", "-n", namespace, *flags],
        capture_output=True,
        text=True,
        check=False,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    return [d for d in yaml.safe_load_all(done.stdout) if d and d["kind"] != "Namespace"]


def _key(obj: Obj) -> tuple[str, str, str, str]:
    meta = obj["metadata"]
    return (obj["apiVersion"], obj["kind"], meta.get("namespace") or "", meta["name"])


def _sorted(objs: list[Obj]) -> list[Obj]:
    return sorted(objs, key=_key)


def _sets(pairs: dict[str, str]) -> list[str]:
    return [f"--set={k}={v}" for k, v in pairs.items()]


def test_the_chart_is_versioned_as_ark() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    assert (chart["version"], chart["appVersion"]) == (project, project)


def test_default_values_render_what_ark_install_applies(helm: Path) -> None:
    rendered, installed = _sorted(_template(helm)), _sorted(_install())
    assert [_key(o) for o in rendered] == [_key(o) for o in installed]  # the short diff first
    assert rendered == installed
    kinds = [o["kind"] for o in rendered]
    assert kinds.count("CustomResourceDefinition") == 6 and "Deployment" in kinds
    assert "Namespace" not in kinds


def test_the_release_namespace_is_the_operators(helm: Path) -> None:
    assert _sorted(_template(helm, namespace="dr")) == _sorted(_install(namespace="dr"))


def test_the_charts_crds_are_the_generated_ones(helm: Path) -> None:
    rendered = {
        o["metadata"]["name"]: o for o in _template(helm) if o["kind"] == "CustomResourceDefinition"
    }
    assert rendered == {c["metadata"]["name"]: c for c in crdgen.all_crds().values()}


def test_location_values_render_what_ark_install_applies(helm: Path, tmp_path: Path) -> None:
    creds = tmp_path / "credentials"
    creds.write_text(CREDENTIALS)
    rendered = _template(helm, *_sets(LOCATION), f"--set-file=credentials.secretContents={creds}")
    (secret,) = [o for o in rendered if o["kind"] == "Secret"]
    assert base64.b64decode(secret["data"]["cloud"]).decode() == CREDENTIALS
    installed = _install(*INSTALL_LOCATION, f"--secret-file={creds}")
    # ark install --dry-run prints Secrets redacted; compare the chart's redacted the same way.
    assert _sorted([install.redacted(o) for o in rendered]) == _sorted(installed)
    assert {o["kind"] for o in installed} >= {"Secret", "BackupStorageLocation"}


def test_an_existing_secret_is_named_not_rendered(helm: Path, tmp_path: Path) -> None:
    creds = tmp_path / "credentials"
    creds.write_text(CREDENTIALS)
    rendered = _template(helm, *_sets(LOCATION), "--set=credentials.existingSecret=ark-credentials")
    installed = _install(*INSTALL_LOCATION, f"--secret-file={creds}")
    assert _sorted(rendered) == _sorted([o for o in installed if o["kind"] != "Secret"])


def test_without_credentials_the_location_names_none(helm: Path) -> None:
    rendered = _template(helm, *_sets(LOCATION))
    assert _sorted(rendered) == _sorted(_install(*INSTALL_LOCATION))


def test_values_change_the_operator(helm: Path) -> None:
    flags = [
        "--set=image.repository=registry.example/ark",
        "--set=image.tag=9.9.9",
        "--set=image.pullPolicy=Always",
        "--set=replicas=1",
        "--set=resources.requests.cpu=1",
        "--set=metrics.port=9090",
        "--set=extraArgs={--backup-workers=8}",
        "--set=rbac.restoreWriter=false",
    ]
    objs = {(o["kind"], o["metadata"]["name"]): o for o in _template(helm, *flags)}
    deployment = objs["Deployment", "ark"]
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["image"] == "registry.example/ark:9.9.9"
    assert container["imagePullPolicy"] == "Always"
    assert deployment["spec"]["replicas"] == 1
    assert container["resources"]["requests"] == {"cpu": 1, "memory": "256Mi"}
    assert container["args"][1:] == [
        "--metrics-port=9090",
        "--health-port=8086",
        "--backup-workers=8",
    ]
    assert objs["Service", "ark-metrics"]["spec"]["ports"][0]["port"] == 9090
    assert ("ClusterRoleBinding", "ark-restore-writer") not in objs
    assert ("ClusterRole", "ark-restore-writer") in objs


@pytest.mark.parametrize(
    ("flag", "complaint"),
    [
        ("--set=replicas=two", "replicas"),
        ("--set=image.pullPolicy=Sometimes", "pullPolicy"),
        ("--set=replica=3", "replica"),  # a misspelt value is refused, not ignored
        ("--set=metrics.port=70000", "port"),
        ("--set=backupStorageLocation.prefix=/abs", "prefix"),
        ("--set=extraArgs={verbose}", "extraArgs"),
    ],
)
def test_a_bad_value_is_refused(helm: Path, flag: str, complaint: str) -> None:
    done = _helm(helm, "template", "ark", str(CHART), flag)
    assert done.returncode != 0
    assert "schema" in done.stderr and complaint in done.stderr, done.stderr


@pytest.mark.parametrize(
    ("flags", "complaint"),
    [
        (["--set=backupStorageLocation.bucket=b"], "provider and backupStorageLocation.bucket go"),
        (
            ["--set=credentials.existingSecret=s", "--set=credentials.secretContents=x"],
            "credentials.existingSecret or credentials.secretContents, not both",
        ),
    ],
)
def test_values_that_do_not_go_together_are_refused(
    helm: Path, flags: list[str], complaint: str
) -> None:
    done = _helm(helm, "template", "ark", str(CHART), *flags)
    assert done.returncode != 0
    assert complaint in done.stderr, done.stderr


def test_helm_lint_is_clean(helm: Path) -> None:
    for flags in ([], [*_sets(LOCATION), "--set=credentials.secretContents=x"]):
        done = _helm(helm, "lint", "--strict", str(CHART), *flags)
        assert done.returncode == 0, done.stdout + done.stderr
        assert "0 chart(s) failed" in done.stdout


def test_notes_never_print_the_credentials(helm: Path) -> None:
    done = _helm(
        helm,
        "install",
        "ark",
        str(CHART),
        "--dry-run=client",
        *_sets(LOCATION),
        f"--set=credentials.secretContents={CREDENTIALS.splitlines()[2]}",
        "--hide-secret",
    )
    assert done.returncode == 0, done.stderr
    notes = done.stdout.split("NOTES:", 1)[1]
    assert "credentials from Secret ark-credentials" in notes
    secret = CREDENTIALS.splitlines()[2]
    assert secret not in done.stdout
    assert base64.b64encode(secret.encode()).decode() not in done.stdout


def test_the_rendered_chart_is_accepted_by_the_api_server(
    helm: Path, kube: KubeClient, make_namespace: NamespaceFactory, tmp_path: Path
) -> None:
    ns = make_namespace()
    creds = tmp_path / "credentials"
    creds.write_text(CREDENTIALS)
    objs = _template(
        helm, *_sets(LOCATION), f"--set-file=credentials.secretContents={creds}", namespace=ns
    )
    try:
        install.apply_all(kube, install.order(objs))  # server-side apply, CRDs Established first
        deployment = kube.get(f"/apis/apps/v1/namespaces/{ns}/deployments/ark")
        assert deployment["spec"]["template"]["spec"]["serviceAccountName"] == "ark"
        bsl = kube.get(f"/apis/ark.dev/v1/namespaces/{ns}/backupstoragelocations/default")
        assert bsl["spec"]["credential"] == {"name": "ark-credentials", "key": "cloud"}
        found = discover(kube)
        for obj in objs:
            group, _, _ = str(obj["apiVersion"]).rpartition("/")
            resource = found.by_group_kind(group, obj["kind"])
            assert resource is not None, obj["kind"]
            meta = obj["metadata"]
            kube.get(resource.path(namespace=meta.get("namespace"), name=meta["name"]))
    finally:
        for obj in objs:
            path = CLUSTER_WIDE.get(obj["kind"])
            if path is not None:
                with contextlib.suppress(KubeError):
                    kube.request("DELETE", f"{path}/{obj['metadata']['name']}")


def test_a_packaged_chart_carries_the_crds(helm: Path, tmp_path: Path) -> None:
    done = _helm(helm, "package", str(CHART), "--destination", str(tmp_path))
    assert done.returncode == 0, done.stderr
    (package,) = tmp_path.glob("ark-*.tgz")
    rendered = _helm(helm, "template", "ark", str(package), "--include-crds")
    assert rendered.returncode == 0, rendered.stderr
    crds = [
        d
        for d in yaml.safe_load_all(rendered.stdout)
        if d and d["kind"] == "CustomResourceDefinition"
    ]
    assert sorted(crds, key=_key) == _sorted(list(crdgen.all_crds().values()))

# Pinned versions of every external component ark's tests and demo run against.
# Sourced by the hack/ scripts; one place to bump a version.
K8S_VERSION="${K8S_VERSION:-v1.34.4}"
K8S_STAGING_VERSION="${K8S_STAGING_VERSION:-v0.34.4}"
ETCD_VERSION="${ETCD_VERSION:-v3.6.16}"
MINIO_VERSION="${MINIO_VERSION:-v0.0.0-20260212201848-7aac2a2c5b7c}"
FAKE_GCS_VERSION="${FAKE_GCS_VERSION:-v1.56.1}"
AZURITE_VERSION="${AZURITE_VERSION:-3.37.0}"
# CSI snapshots: snapshot-controller + csi-snapshotter (and the CRDs, from its client module),
# csi-provisioner, and Kubernetes' e2e CSI mock driver (from k8s.io/kubernetes $K8S_VERSION).
CSI_SNAPSHOTTER_VERSION="${CSI_SNAPSHOTTER_VERSION:-v8.4.0}"
CSI_PROVISIONER_VERSION="${CSI_PROVISIONER_VERSION:-v5.3.0}"
# csi-provisioner's own gateway-api (v1.3.0) does not compile against the v0.34 Kubernetes libraries.
GATEWAY_API_VERSION="${GATEWAY_API_VERSION:-v1.4.0}"
# helm (v4) renders deploy/helm/ark in the chart tests.
HELM_VERSION="${HELM_VERSION:-v4.3.2}"
# Prometheus's promtool checks and unit-tests deploy/monitoring's alert rules (tests/operator/
# test_alert_rules.py). The module v0.316.0 is Prometheus 3.16.0.
PROMETHEUS_VERSION="${PROMETHEUS_VERSION:-v0.316.0}"
# Velero, for the side-by-side bench (hack/bench/run velero): the k8s.io/cli-runtime v0.33.12
# it names is refused by the module proxy, so v0.33.13 replaces it.
VELERO_VERSION="${VELERO_VERSION:-v1.18.3}"
VELERO_CLI_RUNTIME_VERSION="${VELERO_CLI_RUNTIME_VERSION:-v0.33.13}"
VELERO_AWS_PLUGIN_VERSION="${VELERO_AWS_PLUGIN_VERSION:-v1.14.3}"
ARK_CACHE="${ARK_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/ark}"
ARK_BIN="$ARK_CACHE/bin"

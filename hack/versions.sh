# Pinned versions of every external component ark's tests and demo run against.
# Sourced by the hack/ scripts; one place to bump a version.
K8S_VERSION="${K8S_VERSION:-v1.34.4}"
K8S_STAGING_VERSION="${K8S_STAGING_VERSION:-v0.34.4}"
ETCD_VERSION="${ETCD_VERSION:-v3.6.16}"
MINIO_VERSION="${MINIO_VERSION:-v0.0.0-20260212201848-7aac2a2c5b7c}"
FAKE_GCS_VERSION="${FAKE_GCS_VERSION:-v1.56.1}"
AZURITE_VERSION="${AZURITE_VERSION:-3.37.0}"
ARK_CACHE="${ARK_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/ark}"
ARK_BIN="$ARK_CACHE/bin"

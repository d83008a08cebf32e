"""Where the cluster-wide objects ark installs live, to read or delete them after a test."""

from __future__ import annotations

ADMISSION = "/apis/admissionregistration.k8s.io/v1"
CLUSTER_WIDE = {
    "ClusterRole": "/apis/rbac.authorization.k8s.io/v1/clusterroles",
    "ClusterRoleBinding": "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings",
    "ValidatingAdmissionPolicy": f"{ADMISSION}/validatingadmissionpolicies",
    "ValidatingAdmissionPolicyBinding": f"{ADMISSION}/validatingadmissionpolicybindings",
}

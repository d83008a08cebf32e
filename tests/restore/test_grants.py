"""A clone's ClusterRoleBinding, derived without a cluster: its name, what it holds, and when
there is none (tests/restore/test_grants_on_server.py writes them to a real API server)."""

from __future__ import annotations

import copy
from typing import Any

from ark.restore.grants import (
    CLONED_FROM,
    CLUSTER_ROLE_BINDINGS,
    RESTORE_LABEL,
    clone_binding,
    clone_name,
    label_value,
)

MAPPING = {"shop": "shop-staging"}


def _binding(*subjects: dict[str, str], name: str = "shop-reader") -> dict[str, Any]:
    """A ClusterRoleBinding as the restore's rewrites leave it (subjects' namespaces mapped)."""
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRoleBinding",
        "metadata": {
            "name": name,
            "labels": {"app": "shop"},
            "annotations": {
                "kubectl.kubernetes.io/last-applied-configuration": "{...}",
                "team": "shop",
            },
        },
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "r"},
        "subjects": list(subjects),
    }


def _sa(namespace: str, name: str = "app") -> dict[str, str]:
    return {"kind": "ServiceAccount", "namespace": namespace, "name": name}


ALICE = {"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "alice"}


# -- the name -----------------------------------------------------------------------------
def test_the_name_is_the_original_and_eight_hex_of_the_targets() -> None:
    name = clone_name("shop-reader", ["shop-staging"])
    assert name.startswith("shop-reader-")
    assert len(name) == len("shop-reader-") + 8
    assert all(c in "0123456789abcdef" for c in name[-8:])


def test_the_same_clone_gets_the_same_name_whatever_the_order() -> None:
    assert clone_name("r", ["b", "a", "a"]) == clone_name("r", ["a", "b"])


def test_other_targets_or_another_original_get_another_name() -> None:
    names = {
        clone_name("r", ["shop-staging"]),
        clone_name("r", ["shop-qa"]),
        clone_name("r", ["shop-staging", "shop-qa"]),
        clone_name("s", ["shop-staging"]),
    }
    assert len(names) == 4


def test_a_long_original_is_cut_to_fit_and_still_told_apart() -> None:
    long_a, long_b = "a" * 250 + "x", "a" * 250 + "y"
    assert len(clone_name(long_a, ["t"])) == 253
    assert clone_name(long_a, ["t"]) != clone_name(long_b, ["t"])


def test_the_restore_label_fits_a_label_value() -> None:
    assert label_value("r-1") == "r-1"
    long = label_value("r" * 200)
    assert len(long) == 63
    assert long != label_value("r" * 199)


# -- what the clone's binding holds -------------------------------------------------------
def test_the_clones_binding_holds_the_mapped_subjects_only_and_the_same_role() -> None:
    obj = _binding(_sa("shop-staging"), _sa("billing"), ALICE)
    before = copy.deepcopy(obj)

    clone = clone_binding(CLUSTER_ROLE_BINDINGS, obj, mapping=MAPPING, restore="r-1")

    assert clone is not None
    assert obj == before  # the original's object is not changed
    assert clone.original == "shop-reader"
    assert clone.name == clone_name("shop-reader", ["shop-staging"])
    assert clone.body["roleRef"] == obj["roleRef"]
    assert clone.body["subjects"] == [_sa("shop-staging")]
    assert clone.subjects == ("ServiceAccount shop-staging/app",)
    assert clone.left_out == ("ServiceAccount billing/app", "User alice")


def test_the_clones_binding_is_labelled_with_the_restore_and_names_the_original() -> None:
    clone = clone_binding(
        CLUSTER_ROLE_BINDINGS, _binding(_sa("shop-staging")), mapping=MAPPING, restore="r-1"
    )

    assert clone is not None
    meta = clone.body["metadata"]
    assert meta["labels"] == {"app": "shop", RESTORE_LABEL: "r-1"}
    # The original's last-applied configuration would describe another object: dropped.
    assert meta["annotations"] == {"team": "shop", CLONED_FROM: "shop-reader"}


def test_several_mapped_namespaces_share_one_binding() -> None:
    mapping = {"shop": "shop-staging", "billing": "billing-staging"}
    obj = _binding(_sa("shop-staging"), _sa("billing-staging"), _sa("shop-staging"))

    clone = clone_binding(CLUSTER_ROLE_BINDINGS, obj, mapping=mapping, restore="r")

    assert clone is not None
    assert clone.body["subjects"] == [_sa("shop-staging"), _sa("billing-staging")]
    assert clone.name == clone_name("shop-reader", ["billing-staging", "shop-staging"])


# -- when there is none (restored as before) ----------------------------------------------
def test_no_mapping_no_clone() -> None:
    obj = _binding(_sa("shop"))
    assert clone_binding(CLUSTER_ROLE_BINDINGS, obj, mapping={}, restore="r") is None
    assert clone_binding(CLUSTER_ROLE_BINDINGS, obj, mapping={"shop": "shop"}, restore="r") is None


def test_a_binding_with_no_subject_in_a_mapped_namespace_is_left_as_it_is() -> None:
    obj = _binding(_sa("billing"), ALICE)
    assert clone_binding(CLUSTER_ROLE_BINDINGS, obj, mapping=MAPPING, restore="r") is None
    assert clone_binding(CLUSTER_ROLE_BINDINGS, _binding(), mapping=MAPPING, restore="r") is None


def test_role_bindings_are_namespaced_and_not_cloned_here() -> None:
    obj = _binding(_sa("shop-staging"))
    resource = "rolebindings.rbac.authorization.k8s.io"
    assert clone_binding(resource, obj, mapping=MAPPING, restore="r") is None

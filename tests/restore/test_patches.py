"""JSON Patch (RFC 6902), JSON merge patch (RFC 7386) and strategic merge patch: pure."""

from __future__ import annotations

from typing import Any

import pytest

from ark.restore.patches import (
    Operation,
    PatchError,
    TestFailed,
    apply_json_patch,
    apply_merge_patch,
    json_equal,
)
from ark.restore.strategic import apply_strategic_merge_patch


def op(op: str, path: str, value: Any = None, from_: str = "") -> Operation:
    return Operation(op=op, path=path, value=value, from_=from_)


# --- JSON Patch: the examples of RFC 6902 appendix A ---------------------------------------


def test_add_to_an_object_and_insert_into_a_list() -> None:
    assert apply_json_patch({"foo": "bar"}, [op("add", "/baz", "qux")]) == {
        "foo": "bar",
        "baz": "qux",
    }
    assert apply_json_patch({"foo": ["bar", "baz"]}, [op("add", "/foo/1", "qux")]) == {
        "foo": ["bar", "qux", "baz"]
    }
    assert apply_json_patch({"foo": ["bar"]}, [op("add", "/foo/-", ["abc", "def"])]) == {
        "foo": ["bar", ["abc", "def"]]
    }


def test_remove_replace_move_and_copy() -> None:
    assert apply_json_patch({"baz": "qux", "foo": "bar"}, [op("remove", "/baz")]) == {"foo": "bar"}
    assert apply_json_patch({"foo": ["bar", "qux", "baz"]}, [op("remove", "/foo/1")]) == {
        "foo": ["bar", "baz"]
    }
    assert apply_json_patch({"baz": "qux", "foo": "bar"}, [op("replace", "/baz", "boo")]) == {
        "baz": "boo",
        "foo": "bar",
    }
    moved = apply_json_patch(
        {"foo": {"bar": "baz", "waldo": "fred"}, "qux": {"corge": "grault"}},
        [op("move", "/qux/thud", from_="/foo/waldo")],
    )
    assert moved == {"foo": {"bar": "baz"}, "qux": {"corge": "grault", "thud": "fred"}}
    assert apply_json_patch(
        {"foo": ["all", "grass", "cows", "eat"]}, [op("move", "/foo/3", from_="/foo/1")]
    ) == {"foo": ["all", "cows", "eat", "grass"]}
    copied = apply_json_patch({"a": {"b": [1]}}, [op("copy", "/c", from_="/a")])
    copied["c"]["b"].append(2)
    assert copied == {"a": {"b": [1]}, "c": {"b": [1, 2]}}


def test_pointer_escapes() -> None:
    doc = {"metadata": {"annotations": {"example.com/x": "1", "a~b": "2"}}}
    out = apply_json_patch(
        doc,
        [
            op("remove", "/metadata/annotations/example.com~1x"),
            op("replace", "/metadata/annotations/a~0b", "3"),
        ],
    )
    assert out == {"metadata": {"annotations": {"a~b": "3"}}}


def test_test_compares_json_values_strictly() -> None:
    apply_json_patch({"a": 1, "b": {"c": [1, "x"]}}, [op("test", "/b", {"c": [1.0, "x"]})])
    with pytest.raises(TestFailed):
        apply_json_patch({"a": True}, [op("test", "/a", 1)])
    with pytest.raises(TestFailed):
        apply_json_patch({"baz": "qux"}, [op("test", "/baz", "bar")])
    with pytest.raises(TestFailed):  # a missing path fails the test, it is not an error
        apply_json_patch({}, [op("test", "/metadata/labels/x", "y")])
    assert not json_equal(0, False) and json_equal(2, 2.0)
    # null tests that a key is unset, where its object exists (Velero's json-patch does so)
    apply_json_patch({"spec": {}}, [op("test", "/spec/x", None)])
    with pytest.raises(TestFailed):
        apply_json_patch({"spec": {"x": 1}}, [op("test", "/spec/x", None)])
    with pytest.raises(TestFailed):
        apply_json_patch({}, [op("test", "/spec/x", None)])


def test_a_patch_is_all_or_nothing_and_never_changes_its_input() -> None:
    doc = {"spec": {"replicas": 1}}
    with pytest.raises(PatchError):
        apply_json_patch(doc, [op("replace", "/spec/replicas", 5), op("remove", "/spec/missing")])
    assert doc == {"spec": {"replicas": 1}}


@pytest.mark.parametrize(
    ("doc", "operation", "reason"),
    [
        ({"a": 1}, op("remove", "/b"), "/b does not exist"),
        ({"a": 1}, op("replace", "/b", 2), "/b does not exist"),
        ({"a": 1}, op("add", "/b/c", 2), "/b does not exist"),
        ({"a": [1]}, op("add", "/a/5", 2), "index 5 is out of range"),
        ({"a": [1]}, op("add", "/a/01", 2), "'01' is not a list index"),
        ({"a": [1]}, op("replace", "/a/-", 2), "'-' is not a list index"),
        ({"a": "s"}, op("add", "/a/b", 2), "/a is not an object"),
        ({"a": {"b": 1}}, op("move", "/a/b/c", from_="/a"), "into its own child"),
        ({"a": 1}, op("bogus", "/a"), "unsupported operation"),
        ({"a": 1}, op("add", "a", 1), "is not a JSON Pointer"),
    ],
)
def test_errors_say_what_does_not_fit(doc: Any, operation: Operation, reason: str) -> None:
    with pytest.raises(PatchError, match=reason) as caught:
        apply_json_patch(doc, [operation])
    assert not isinstance(caught.value, TestFailed)


# --- JSON merge patch: the examples of RFC 7386 appendix A -----------------------------------


@pytest.mark.parametrize(
    ("doc", "patch", "result"),
    [
        ({"a": "b"}, {"a": "c"}, {"a": "c"}),
        ({"a": "b"}, {"b": "c"}, {"a": "b", "b": "c"}),
        ({"a": "b"}, {"a": None}, {}),
        ({"a": "b", "b": "c"}, {"a": None}, {"b": "c"}),
        ({"a": ["b"]}, {"a": "c"}, {"a": "c"}),
        ({"a": "c"}, {"a": ["b"]}, {"a": ["b"]}),
        ({"a": {"b": "c"}}, {"a": {"b": "d", "c": None}}, {"a": {"b": "d"}}),
        ({"a": [{"b": "c"}]}, {"a": [1]}, {"a": [1]}),
        (["a", "b"], ["c", "d"], ["c", "d"]),
        ({"a": "b"}, ["c"], ["c"]),
        ({"a": "foo"}, None, None),
        ({"e": None}, {"a": 1}, {"e": None, "a": 1}),
        ([1, 2], {"a": "b", "c": None}, {"a": "b"}),
        ({}, {"a": {"bb": {"ccc": None}}}, {"a": {"bb": {}}}),
    ],
)
def test_merge_patch_rfc_examples(doc: Any, patch: Any, result: Any) -> None:
    assert apply_merge_patch(doc, patch) == result


def test_merge_patch_never_changes_its_input() -> None:
    doc = {"a": {"b": 1}}
    apply_merge_patch(doc, {"a": {"b": 2}})
    assert doc == {"a": {"b": 1}}


# --- Strategic merge patch -------------------------------------------------------------------


def deployment(containers: list[dict[str, Any]], **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "finalizers": ["a"]},
        "spec": {"template": {"spec": {"containers": containers, **spec}}},
    }


def containers_of(obj: dict[str, Any]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = obj["spec"]["template"]["spec"]["containers"]
    return found


def test_containers_merge_by_name() -> None:
    doc = deployment(
        [
            {"name": "app", "image": "app:1", "args": ["a", "b"]},
            {"name": "sidecar", "image": "side:1"},
        ]
    )
    patch = {
        "spec": {
            "template": {
                "spec": {
                    "containers": [
                        {"name": "app", "image": "app:2", "args": ["c"]},
                        {"name": "new", "image": "new:1"},
                    ]
                }
            }
        }
    }
    out = apply_strategic_merge_patch(doc, patch)
    assert containers_of(out) == [  # in the API server's order (test_strategic_on_server)
        {"name": "app", "image": "app:2", "args": ["c"]},  # args: no strategy, replaced
        {"name": "new", "image": "new:1"},
        {"name": "sidecar", "image": "side:1"},
    ]
    assert containers_of(doc)[0]["image"] == "app:1"


def test_ports_env_and_mounts_merge_by_their_keys() -> None:
    doc = deployment(
        [
            {
                "name": "app",
                "ports": [{"containerPort": 80, "name": "http"}],
                "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
                "volumeMounts": [{"mountPath": "/data", "name": "data"}],
            }
        ],
        volumes=[{"name": "data", "emptyDir": {}}],
    )
    patch = {
        "spec": {
            "template": {
                "spec": {
                    "containers": [
                        {
                            "name": "app",
                            "ports": [
                                {"containerPort": 80, "name": "web"},
                                {"containerPort": 9090},
                            ],
                            "env": [{"name": "B", "value": "3"}, {"name": "A", "$patch": "delete"}],
                            "volumeMounts": [{"mountPath": "/cache", "name": "cache"}],
                        }
                    ],
                    "volumes": [{"name": "cache", "emptyDir": {"medium": "Memory"}}],
                }
            }
        }
    }
    out = apply_strategic_merge_patch(doc, patch)
    (app,) = containers_of(out)
    assert app["ports"] == [{"containerPort": 80, "name": "web"}, {"containerPort": 9090}]
    assert app["env"] == [{"name": "B", "value": "3"}]
    assert [m["mountPath"] for m in app["volumeMounts"]] == ["/cache", "/data"]
    assert [v["name"] for v in out["spec"]["template"]["spec"]["volumes"]] == ["cache", "data"]


def test_replace_and_delete_directives() -> None:
    doc = deployment(
        [{"name": "a", "image": "a"}, {"name": "b", "image": "b"}],
        nodeSelector={"zone": "x", "disk": "ssd"},
        securityContext={"runAsUser": 1},
    )
    patch = {
        "metadata": {"finalizers": ["b", "a"]},
        "spec": {
            "template": {
                "spec": {
                    "containers": [{"name": "c", "image": "c"}, {"$patch": "replace"}],
                    "nodeSelector": {"zone": "y", "$patch": "replace"},
                    "securityContext": {"$patch": "delete"},
                }
            }
        },
    }
    out = apply_strategic_merge_patch(doc, patch)
    spec = out["spec"]["template"]["spec"]
    assert spec["containers"] == [{"name": "c", "image": "c"}]
    assert spec["nodeSelector"] == {"zone": "y"}
    assert spec["securityContext"] == {}
    assert out["metadata"]["finalizers"] == ["b", "a"]  # merged as a set, in the patch's order


def test_delete_from_primitive_list_and_retain_keys() -> None:
    doc = deployment(
        [{"name": "a"}], volumes=[{"name": "v", "emptyDir": {}, "hostPath": {"path": "/x"}}]
    )
    doc["metadata"]["finalizers"] = ["a", "b"]
    patch = {
        "metadata": {"$deleteFromPrimitiveList/finalizers": ["a"]},
        "spec": {
            "template": {
                "spec": {
                    "volumes": [{"name": "v", "$retainKeys": ["name", "emptyDir"]}],
                    "$setElementOrder/volumes": [{"name": "v"}],
                }
            }
        },
    }
    out = apply_strategic_merge_patch(doc, patch)
    assert out["metadata"]["finalizers"] == ["b"]
    assert out["spec"]["template"]["spec"]["volumes"] == [{"name": "v", "emptyDir": {}}]


def test_service_ports_merge_by_port_and_other_lists_are_replaced() -> None:
    svc = {
        "apiVersion": "v1",
        "kind": "Service",
        "spec": {"ports": [{"port": 80, "name": "http"}, {"port": 443}]},
    }
    out = apply_strategic_merge_patch(svc, {"spec": {"ports": [{"port": 80, "nodePort": 30080}]}})
    assert out["spec"]["ports"] == [{"port": 80, "name": "http", "nodePort": 30080}, {"port": 443}]
    ingress = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "spec": {"rules": [{"host": "a.example.com"}, {"host": "b.example.com"}]},
    }
    out = apply_strategic_merge_patch(ingress, {"spec": {"rules": [{"host": "c.example.com"}]}})
    assert out["spec"]["rules"] == [{"host": "c.example.com"}]


def test_custom_resources_get_a_json_merge_patch() -> None:
    gadget = {"apiVersion": "example.com/v1", "kind": "Gadget", "spec": {"items": [{"name": "a"}]}}
    out = apply_strategic_merge_patch(gadget, {"spec": {"items": [{"name": "b"}], "x": None}})
    assert out["spec"] == {"items": [{"name": "b"}]}


def test_set_element_order_orders_a_merged_list() -> None:
    doc = deployment([{"name": "a"}, {"name": "b"}, {"name": "c"}])
    patch = template_patch(
        {
            "containers": [{"name": "b", "image": "b:2"}],
            "$setElementOrder/containers": [{"name": "c"}, {"name": "b"}, {"name": "a"}],
        }
    )
    out = apply_strategic_merge_patch(doc, patch)
    assert [c["name"] for c in containers_of(out)] == ["c", "b", "a"]


def template_patch(spec: dict[str, Any]) -> dict[str, Any]:
    return {"spec": {"template": {"spec": spec}}}


def test_strategic_errors() -> None:
    with pytest.raises(PatchError, match="without its merge key 'name'"):
        apply_strategic_merge_patch(
            deployment([]), {"spec": {"template": {"spec": {"containers": [{"image": "x"}]}}}}
        )
    with pytest.raises(PatchError, match="unknown \\$patch directive 'merge'"):
        apply_strategic_merge_patch(deployment([]), {"spec": {"$patch": "merge"}})

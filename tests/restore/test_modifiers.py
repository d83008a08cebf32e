"""Resource modifier rules in Velero's format: parsing, validation, matching, patching. Pure;
the examples of Velero's documentation (restore-resource-modifiers.md) work as written."""

from __future__ import annotations

from typing import Any

import pytest

from ark.restore import modifiers
from ark.restore.modifiers import InvalidModifiers, ModifierFailed, Modifiers


def pvc(name: str, namespace: str = "foo", **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": name, "namespace": namespace, "labels": {"foo": "bar", "test": "x"}},
        "spec": {"storageClassName": "premium", **spec},
    }


def apply(
    rules: Modifiers, obj: dict[str, Any], resource: str, namespace: str = "foo"
) -> tuple[dict[str, Any], list[int]]:
    return rules.apply(obj, resource=resource, namespace=namespace)


VELERO_TEMPLATE = """
version: v1
resourceModifierRules:
- conditions:
     groupResource: persistentvolumeclaims
     resourceNameRegex: "^mysql.*$"
     namespaces:
     - bar
     - foo
     labelSelector:
        matchLabels:
           foo: bar
  patches:
  - operation: replace
    path: "/spec/storageClassName"
    value: "premium"
  - operation: remove
    path: "/metadata/labels/test"
"""


def test_velero_template_matches_name_namespace_and_labels() -> None:
    rules = modifiers.parse(VELERO_TEMPLATE)
    out, changed = apply(
        rules, pvc("mysql-0", storageClassName="standard"), "persistentvolumeclaims"
    )
    assert out["spec"]["storageClassName"] == "premium"
    assert out["metadata"]["labels"] == {"foo": "bar"}
    assert changed == [0]
    for obj, resource, ns in [
        (pvc("postgres-0"), "persistentvolumeclaims", "foo"),  # name
        (pvc("mysql-0"), "persistentvolumeclaims", "baz"),  # namespace
        (pvc("mysql-0"), "persistentvolumes", "foo"),  # groupResource
    ]:
        assert apply(rules, obj, resource, ns) == (obj, [])
    unlabelled = pvc("mysql-0")
    unlabelled["metadata"]["labels"] = {"foo": "baz"}
    assert apply(rules, unlabelled, "persistentvolumeclaims")[1] == []


def test_velero_conditional_patch_with_test() -> None:
    rules = modifiers.parse(
        """
version: v1
resourceModifierRules:
- conditions:
    groupResource: persistentvolumeclaims
    resourceNameRegex: ".*"
    namespaces:
    - bar
    - foo
  patches:
  - operation: test
    path: "/spec/storageClassName"
    value: "premium"
  - operation: replace
    path: "/spec/storageClassName"
    value: "standard"
"""
    )
    out, changed = apply(rules, pvc("a"), "persistentvolumeclaims")
    assert out["spec"]["storageClassName"] == "standard" and changed == [0]
    other = pvc("b", storageClassName="gold")
    assert apply(rules, other, "persistentvolumeclaims") == (other, [])  # no change, no error


def test_velero_complex_values_and_copy() -> None:
    rules = modifiers.parse(
        r"""
version: v1
resourceModifierRules:
- conditions:
    groupResource: deployments.apps
    resourceNameRegex: "^test-.*$"
    namespaces:
    - bar
    - foo
  patches:
    # Dealing with complex values by escaping the yaml
  - operation: add
    path: "/spec/template/spec/containers/0"
    value: "{\"name\": \"nginx\", \"image\": \"nginx:1.14.2\", \"ports\": [{\"containerPort\": 80}]}"
    # Copy Operator
  - operation: copy
    from: "/spec/template/spec/containers/0"
    path: "/spec/template/spec/containers/1"
"""  # noqa: E501 - Velero's example as written
    )
    deploy = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "test-1", "namespace": "bar"},
        "spec": {"template": {"spec": {"containers": [{"name": "app", "image": "app"}]}}},
    }
    out, _ = apply(rules, deploy, "deployments.apps", "bar")
    nginx = {"name": "nginx", "image": "nginx:1.14.2", "ports": [{"containerPort": 80}]}
    assert out["spec"]["template"]["spec"]["containers"] == [
        nginx,
        nginx,
        {"name": "app", "image": "app"},
    ]


def test_velero_merge_patch_and_matches() -> None:
    rules = modifiers.parse(
        """
version: v1
resourceModifierRules:
- conditions:
    groupResource: pods
    namespaces:
    - ns1
  mergePatches:
  - patchData: |
      {
        "metadata": {
          "annotations": {
            "foo": null
          }
        }
      }
- conditions:
    groupResource: persistentvolumeclaims
    matches:
    - path: "/spec/storageClassName"
      value: "premium"
  mergePatches:
  - patchData: |
      metadata:
        annotations:
          moved: "yes"
"""
    )
    pod = {"metadata": {"name": "p", "annotations": {"foo": "1", "bar": "2"}}}
    out, changed = apply(rules, pod, "pods", "ns1")
    assert out["metadata"]["annotations"] == {"bar": "2"} and changed == [0]
    out, changed = apply(rules, pvc("a"), "persistentvolumeclaims")
    assert out["metadata"]["annotations"] == {"moved": "yes"} and changed == [1]
    gold = pvc("b", storageClassName="gold")
    assert apply(rules, gold, "persistentvolumeclaims") == (gold, [])


def test_velero_strategic_merge_patch() -> None:
    rules = modifiers.parse(
        """
version: v1
resourceModifierRules:
- conditions:
    groupResource: pods
    resourceNameRegex: "^my-pod$"
    namespaces:
    - ns1
  strategicPatches:
  - patchData: |
      {
        "spec": {
          "containers": [
            {
              "name": "nginx",
              "image": "repo2/nginx"
            }
          ]
        }
      }
"""
    )
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "my-pod"},
        "spec": {"containers": [{"name": "nginx", "image": "nginx"}, {"name": "x", "image": "x"}]},
    }
    out, changed = apply(rules, pod, "pods", "ns1")
    assert out["spec"]["containers"] == [
        {"name": "nginx", "image": "repo2/nginx"},
        {"name": "x", "image": "x"},
    ]
    assert changed == [0]


@pytest.mark.parametrize(
    ("pattern", "resource", "matched"),
    [
        ("*", "pods", True),
        ("*", "deployments.apps", False),  # * stops at a dot, as Velero's glob does
        ("*.apps", "deployments.apps", True),
        ("*.apps", "pods", False),
        ("*.*", "deployments.apps", True),
        ("**", "ingresses.networking.k8s.io", True),
        ("deployments.{apps,extensions}", "deployments.extensions", True),
        ("persistentvolume?", "persistentvolumes", True),
        ("[ps]ods", "pods", True),
        ("[!p]ods", "pods", False),
    ],
)
def test_group_resource_globs(pattern: str, resource: str, matched: bool) -> None:
    rules = modifiers.parse(
        f"""
version: v1
resourceModifierRules:
- conditions: {{groupResource: "{pattern}"}}
  mergePatches: [{{patchData: '{{"x": 1}}'}}]
"""
    )
    assert (apply(rules, {"metadata": {"name": "n"}}, resource)[1] == [0]) is matched


def test_namespaces_are_globs_and_cluster_scoped_objects_ignore_them() -> None:
    rules = modifiers.parse(
        """
version: v1
resourceModifierRules:
- conditions: {groupResource: "*", namespaces: ["team-*"]}
  mergePatches: [{patchData: '{"x": 1}'}]
"""
    )
    obj = {"metadata": {"name": "n"}}
    assert apply(rules, obj, "configmaps", "team-a")[1] == [0]
    assert apply(rules, obj, "configmaps", "other")[1] == []
    assert apply(rules, obj, "persistentvolumes", "")[1] == [0]


def test_label_selector_expressions() -> None:
    rules = modifiers.parse(
        """
version: v1
resourceModifierRules:
- conditions:
    groupResource: persistentvolumeclaims
    labelSelector:
      matchExpressions:
      - {key: foo, operator: In, values: [bar, baz]}
      - {key: skip, operator: DoesNotExist}
  mergePatches: [{patchData: '{"x": 1}'}]
"""
    )
    assert apply(rules, pvc("a"), "persistentvolumeclaims")[1] == [0]
    skipped = pvc("a")
    skipped["metadata"]["labels"]["skip"] = "1"
    assert apply(rules, skipped, "persistentvolumeclaims")[1] == []


def test_values_are_read_as_velero_reads_them() -> None:
    value = modifiers.json_value
    assert value("3") == 3 and value(3) == 3 and value("1.5") == 1.5
    assert value("true") is True and value("False") is False and value(True) is True
    assert value("null") is None and value(None) == "" and value("") == ""
    assert value('"3"') == "3" and value('"true"') == "true"
    assert value('{"a": [1]}') == {"a": [1]} and value("[1]") == [1]
    assert value("standard") == "standard" and value("012") == "012"


def test_rules_apply_in_order_and_match_the_object_as_it_came() -> None:
    rules = modifiers.parse(
        """
version: v1
resourceModifierRules:
- conditions: {groupResource: persistentvolumeclaims}
  patches: [{operation: replace, path: /spec/storageClassName, value: gold}]
- conditions:
    groupResource: persistentvolumeclaims
    matches: [{path: /spec/storageClassName, value: premium}]
  patches: [{operation: add, path: /metadata/labels/was, value: premium}]
- conditions: {groupResource: persistentvolumeclaims}
  patches: [{operation: replace, path: /spec/storageClassName, value: gold}]
"""
    )
    given = pvc("a")
    out, changed = apply(rules, given, "persistentvolumeclaims")
    assert out["spec"]["storageClassName"] == "gold"
    assert out["metadata"]["labels"]["was"] == "premium"
    assert changed == [0, 1]  # rule 2 matched but changed nothing
    assert given == pvc("a")  # the input is never changed


def test_a_patch_that_does_not_apply_names_the_rule() -> None:
    rules = modifiers.parse(
        """
version: v1
resourceModifierRules:
- conditions: {groupResource: persistentvolumeclaims}
  mergePatches: [{patchData: '{"x": 1}'}]
- conditions: {groupResource: persistentvolumeclaims}
  patches: [{operation: remove, path: /spec/volumeName}]
"""
    )
    with pytest.raises(
        ModifierFailed, match=r"rule 1 \(patches\): /spec/volumeName does not exist"
    ):
        apply(rules, pvc("a"), "persistentvolumeclaims")


def test_from_config_map_takes_its_one_key() -> None:
    cm = {
        "metadata": {"name": "mods", "namespace": "ark"},
        "data": {"rules.yaml": VELERO_TEMPLATE},
    }
    assert len(modifiers.from_config_map(cm).rules) == 1
    with pytest.raises(InvalidModifiers, match="configmap ark/mods: must hold exactly one key"):
        modifiers.from_config_map({**cm, "data": {"a": VELERO_TEMPLATE, "b": VELERO_TEMPLATE}})
    cm["data"] = {"rules.yaml": "version: v2\nresourceModifierRules: [x]"}
    with pytest.raises(InvalidModifiers) as caught:
        modifiers.from_config_map(cm)
    assert caught.value.reasons[0] == (
        "configmap ark/mods key rules.yaml: unsupported version 'v2' (want v1)"
    )


def reasons(text: str) -> list[str]:
    with pytest.raises(InvalidModifiers) as caught:
        modifiers.parse(text)
    return caught.value.reasons


def test_a_bad_rule_is_refused_naming_its_index_and_the_reason() -> None:
    found = reasons(
        """
version: v1
resourceModifierRules:
- conditions: {groupResource: pods}
  patches: [{operation: replace, path: /spec/x, value: 1}]
- conditions: {resourceNameRegex: x}
  patches: [{operation: replace, path: /spec/x, value: 1}]
- conditions: {groupResource: pods}
  patches: [{operation: replace, path: /spec/x}]
  mergePatches: [{patchData: '{}'}]
- conditions: {groupResource: pods}
- conditions: {groupResource: pods, resourceNameRegex: "(unclosed"}
  mergePatches: [{patchData: '{}'}]
- conditions: {groupResource: "[pods"}
  mergePatches: [{patchData: '{}'}]
- conditions: {groupResource: pods}
  patches: [{operation: upsert, path: /spec/x}]
- conditions: {groupResource: pods}
  patches: [{operation: add, path: spec/x, value: 1}]
- conditions: {groupResource: pods}
  patches: [{operation: add, path: /spec/x, value: "{not json"}]
- conditions: {groupResource: pods}
  strategicPatches: [{patchData: "[1, 2]"}]
- conditions: {groupResource: pods}
  mergePatches: [{patchData: "a: b:"}]
- conditions: {groupResource: pods, matches: [{value: x}]}
  mergePatches: [{patchData: '{}'}]
- conditions: {groupResource: pods, color: blue}
  mergePatches: [{patchData: '{}'}]
"""
    )
    assert [r.split(":")[0] for r in found] == [f"resource modifier rule {i}" for i in range(1, 13)]
    assert found[0] == "resource modifier rule 1: conditions.groupResource: Field required"
    assert "exactly one of patches, mergePatches or strategicPatches" in found[1]
    assert "not 2" in found[1] and "not 0" in found[2]
    assert "resourceNameRegex '(unclosed'" in found[3]
    assert "'[' without ']'" in found[4]
    assert "patches.0: unsupported operation 'upsert'" in found[5]
    assert "patches.0.path: 'spec/x' is not a JSON Pointer" in found[6]
    assert "patches.0: value '{not json' is not valid JSON" in found[7]
    assert "strategicPatches.0.patchData: must be an object" in found[8]
    assert "mergePatches.0.patchData: not YAML or JSON" in found[9]
    assert "conditions.matches.0.path: Field required" in found[10]
    assert "conditions.color: Extra inputs are not permitted" in found[11]


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("version: v1\nresourceModifierRules: []", "resourceModifierRules must be a non-empty"),
        ("version: v1", "resourceModifierRules must be a non-empty"),
        ("[1]", "must be a mapping"),
        ("a: b: c", "not YAML"),
        (
            "version: v1\nrules: 1\nresourceModifierRules:\n"
            "- {conditions: {groupResource: x}, mergePatches: [{patchData: '{}'}]}",
            "unknown field(s) rules",
        ),
    ],
)
def test_a_bad_document_is_refused(text: str, reason: str) -> None:
    assert any(reason in r for r in reasons(text)), reasons(text)

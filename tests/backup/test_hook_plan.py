"""Hook selection and the hook runner are pure: tested with synthetic pods and a recording
stand-in for the exec transport (no cluster)."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import pytest
from pydantic import ValidationError

from ark.api import BackupSpec
from ark.api.backup import BackupHooks, HookErrorMode
from ark.backup import hooks
from ark.backup.hooks import FROM_ANNOTATION, HookPhase, HookRun, PodTarget, plan_hooks
from ark.kube import KubeApiError
from ark.kube.podexec import ExecError, ExecResult, _exit_code
from ark.report import Issues, RunLog


def _pod(
    name: str = "db-0",
    *,
    namespace: str = "shop",
    labels: Mapping[str, str] | None = None,
    annotations: Mapping[str, str] | None = None,
    containers: Sequence[str] = ("db", "metrics"),
    claims: Sequence[str] = (),
) -> PodTarget:
    return PodTarget(
        namespace=namespace,
        name=name,
        containers=tuple(containers),
        labels=dict(labels or {}),
        annotations=dict(annotations or {}),
        claims=tuple(claims),
    )


def _hooks(**entry: Any) -> BackupHooks:
    entry.setdefault("name", "freeze")
    return BackupHooks.model_validate({"resources": [entry]})


FREEZE = {"exec": {"command": ["fsfreeze", "--freeze", "/data"]}}
THAW = {"exec": {"command": ["fsfreeze", "--unfreeze", "/data"], "onError": "Continue"}}


def test_pod_target_keeps_what_selection_needs_from_the_object() -> None:
    item = {
        "metadata": {
            "namespace": "shop",
            "name": "db-0",
            "labels": {"app": "db"},
            "annotations": {"pre.hook.backup.velero.io/command": "/bin/x", "other": "dropped"},
        },
        "spec": {
            "containers": [{"name": "db"}, {"name": "metrics"}],
            "volumes": [
                {"name": "data", "persistentVolumeClaim": {"claimName": "data-db-0"}},
                {"name": "tmp", "emptyDir": {}},
            ],
        },
    }
    pod = PodTarget.from_item(item)
    assert pod.ref == "shop/db-0" and pod.containers == ("db", "metrics")
    assert pod.claims == ("data-db-0",)
    assert dict(pod.annotations) == {"pre.hook.backup.velero.io/command": "/bin/x"}


def test_spec_hooks_default_to_the_first_container_fail_and_30s() -> None:
    [(_, pre, post)] = plan_hooks([_pod()], _hooks(pre=[FREEZE], post=[THAW])).pods
    [freeze] = pre
    assert (freeze.container, freeze.on_error, freeze.timeout) == ("db", HookErrorMode.FAIL, 30.0)
    assert freeze.command == ("fsfreeze", "--freeze", "/data") and freeze.phase is HookPhase.PRE
    [thaw] = post
    assert thaw.on_error is HookErrorMode.CONTINUE and thaw.phase is HookPhase.POST


def test_timeout_is_a_go_duration_and_zero_means_the_default() -> None:
    entry = {"exec": {"command": ["x"], "timeout": "1m30s"}}
    [(_, [hook], _)] = plan_hooks([_pod()], _hooks(pre=[entry])).pods
    assert hook.timeout == 90.0
    entry = {"exec": {"command": ["x"], "timeout": "0"}}
    [(_, [hook], _)] = plan_hooks([_pod()], _hooks(pre=[entry])).pods
    assert hook.timeout == 30.0


@pytest.mark.parametrize(
    ("selection", "selected"),
    [
        ({}, {"shop/db-0", "shop/web-0", "lab/db-0"}),
        ({"includedNamespaces": ["shop"]}, {"shop/db-0", "shop/web-0"}),
        ({"excludedNamespaces": ["sh*"]}, {"lab/db-0"}),
        ({"labelSelector": {"matchLabels": {"app": "db"}}}, {"shop/db-0", "lab/db-0"}),
        ({"includedResources": ["*"]}, {"shop/db-0", "shop/web-0", "lab/db-0"}),
        ({"includedResources": ["pods"]}, {"shop/db-0", "shop/web-0", "lab/db-0"}),
        ({"includedResources": ["Pod", "deployments"]}, {"shop/db-0", "shop/web-0", "lab/db-0"}),
        ({"includedResources": ["po"], "includedNamespaces": ["lab"]}, {"lab/db-0"}),
        ({"includedResources": ["deployments"]}, set()),
        ({"excludedResources": ["pods"]}, set()),
        ({"includedResources": ["pods.apps"]}, set()),  # no pods in group apps
    ],
)
def test_spec_hooks_select_pods_by_namespace_label_and_resource(
    selection: dict[str, Any], selected: set[str]
) -> None:
    pods = [
        _pod("db-0", labels={"app": "db"}),
        _pod("web-0", labels={"app": "web"}),
        _pod("db-0", namespace="lab", labels={"app": "db"}),
    ]
    plan = plan_hooks(pods, _hooks(pre=[FREEZE], **selection))
    assert {pod.ref for pod, _, _ in plan.pods} == selected


def test_several_resource_entries_add_up_in_their_order() -> None:
    spec = BackupHooks.model_validate(
        {
            "resources": [
                {"name": "flush", "pre": [{"exec": {"command": ["sync"]}}]},
                {"name": "freeze", "pre": [FREEZE], "labelSelector": {"matchLabels": {"a": "b"}}},
                {"name": "lock", "pre": [{"exec": {"command": ["lock"]}}]},
            ]
        }
    )
    [(_, pre, _)] = plan_hooks([_pod()], spec).pods
    assert [h.name for h in pre] == ["flush", "lock"]


def test_annotations_take_precedence_per_phase() -> None:
    pod = _pod(
        annotations={
            "pre.hook.backup.velero.io/command": '["/bin/freeze", "--now"]',
            "pre.hook.backup.velero.io/container": "metrics",
            "pre.hook.backup.velero.io/on-error": "Continue",
            "pre.hook.backup.velero.io/timeout": "2m",
        }
    )
    [(_, [pre], [post])] = plan_hooks([pod], _hooks(pre=[FREEZE], post=[THAW])).pods
    assert pre.name == FROM_ANNOTATION and pre.command == ("/bin/freeze", "--now")
    assert (pre.container, pre.on_error, pre.timeout) == ("metrics", HookErrorMode.CONTINUE, 120)
    assert post.name == "freeze"  # no post annotation: the spec's post hook stays


def test_annotation_hooks_apply_without_any_spec_hooks() -> None:
    pod = _pod(annotations={"post.hook.backup.velero.io/command": "/bin/thaw"})
    [(_, pre, [post])] = plan_hooks([pod], None).pods
    assert pre == [] and post.command == ("/bin/thaw",) and post.container == "db"
    assert post.on_error is HookErrorMode.FAIL and post.timeout == 30.0


def test_legacy_unphased_annotations_are_pre_hooks_only() -> None:
    pod = _pod(annotations={"hook.backup.velero.io/command": '["/bin/sync"]'})
    [(_, [pre], post)] = plan_hooks([pod], None).pods
    assert pre.command == ("/bin/sync",) and post == []


def test_bad_annotation_values_fall_back_to_velero_defaults_with_a_warning() -> None:
    pod = _pod(
        annotations={
            "pre.hook.backup.velero.io/command": "/bin/freeze",
            "pre.hook.backup.velero.io/on-error": "Ignore",
            "pre.hook.backup.velero.io/timeout": "300",
        }
    )
    plan = plan_hooks([pod], None)
    [(_, [pre], _)] = plan.pods
    assert pre.on_error is HookErrorMode.FAIL and pre.timeout == 30.0
    messages = [m for _, m in plan.warnings]
    assert any("on-error 'Ignore' is not Fail or Continue" in m for m in messages)
    assert any("timeout '300' is not a duration" in m for m in messages)


@pytest.mark.parametrize(
    ("value", "command"),
    [
        (
            '["/bin/sh", "-c", "sync && fsfreeze -f /data"]',
            ("/bin/sh", "-c", "sync && fsfreeze -f /data"),
        ),
        ("/usr/bin/uname -a", ("/usr/bin/uname -a",)),  # not split: Velero runs it as one
        ("[not json", ("[not json",)),
        ("[1, 2]", ("[1, 2]",)),
    ],
)
def test_command_annotation_is_a_json_array_or_one_string(
    value: str, command: tuple[str, ...]
) -> None:
    assert hooks.parse_command(value) == command


def test_pods_without_hooks_are_not_in_the_plan() -> None:
    assert plan_hooks([_pod()], None).empty
    assert plan_hooks([_pod()], _hooks(pre=[FREEZE], includedNamespaces=["other"])).empty


def test_api_refuses_hooks_velero_would_refuse() -> None:
    with pytest.raises(ValidationError, match="command"):
        BackupSpec.model_validate({"hooks": {"resources": [{"name": "x", "pre": [{"exec": {}}]}]}})
    with pytest.raises(ValidationError, match="onError"):
        _hooks(pre=[{"exec": {"command": ["x"], "onError": "Ignore"}}])
    with pytest.raises(ValidationError, match="timeout"):
        _hooks(pre=[{"exec": {"command": ["x"], "timeout": "300"}}])
    with pytest.raises(ValidationError, match="name"):
        BackupHooks.model_validate({"resources": [{"pre": [FREEZE]}]})


# -- the runner, with a recording stand-in for pods/exec ---------------------------------------
class RecordingExec:
    """Stand-in for the exec transport: records calls; ``answers`` maps a command's first
    word to an exit code or an exception to raise."""

    def __init__(self, answers: Mapping[str, int | Exception] | None = None) -> None:
        self.calls: list[tuple[str, str, str, tuple[str, ...], float]] = []
        self.answers = dict(answers or {})
        self._lock = threading.Lock()

    def __call__(
        self, *, namespace: str, pod: str, container: str, command: Sequence[str], timeout: float
    ) -> ExecResult:
        with self._lock:
            self.calls.append((namespace, pod, container, tuple(command), timeout))
        answer = self.answers.get(command[0], 0)
        if isinstance(answer, Exception):
            raise answer
        return ExecResult(exit_code=answer, stderr=f"{command[0]}: failed" if answer else "")


_LOGS: list[RunLog] = []


@pytest.fixture(autouse=True)
def _close_logs() -> Iterator[None]:
    yield
    while _LOGS:
        _LOGS.pop().close()


def _runner(
    pods: Sequence[PodTarget], spec: BackupHooks | None, transport: RecordingExec
) -> tuple[HookRun, Issues]:
    issues = Issues()
    _LOGS.append(RunLog("t"))
    return HookRun(plan_hooks(pods, spec), transport, issues=issues, log=_LOGS[-1]), issues


def test_a_failing_pre_hook_with_fail_stops_that_pods_pre_hooks_and_blocks_its_claims() -> None:
    transport = RecordingExec({"freeze": 2})
    spec = _hooks(
        pre=[{"exec": {"command": ["freeze"]}}, {"exec": {"command": ["lock"]}}], post=[THAW]
    )
    run, issues = _runner([_pod(claims=["data-db-0"]), _pod("db-1")], spec, transport)
    run.pre()
    error = next(str(e) for e in issues.errors if e.name == "db-0")
    assert error == (
        'pods shop/db-0: pre hook freeze in pod shop/db-0 container db command ["freeze"] '
        "failed: exited 2: freeze: failed; its 1 later pre hooks not run"
    )
    assert run.blocked_claims() == {("shop", "data-db-0"): _pod(claims=["data-db-0"])}
    # db-1's freeze failed too, but it mounts no claim; neither pod ran "lock".
    assert [c[3][0] for c in transport.calls] == ["freeze", "freeze"]
    run.post()
    assert sum(1 for c in transport.calls if c[3][0] == "fsfreeze") == 2  # both thawed
    assert (run.attempted, run.failed) == (4, 2)


def test_continue_turns_a_failure_into_a_warning_and_goes_on() -> None:
    transport = RecordingExec(
        {"freeze": KubeApiError(method="GET", path="/p", status=403, body=b"")}
    )
    spec = _hooks(
        pre=[
            {"exec": {"command": ["freeze"], "onError": "Continue"}},
            {"exec": {"command": ["lock"]}},
        ]
    )
    run, issues = _runner([_pod()], spec, transport)
    run.pre()
    assert not issues.errors and not run.blocked_claims()
    [warning] = [str(w) for w in issues.warnings]
    assert "403" in warning and warning.endswith("(onError Continue)")
    assert [c[3][0] for c in transport.calls] == ["freeze", "lock"]


def test_a_timeout_is_a_failure_naming_it() -> None:
    transport = RecordingExec({"freeze": ExecError("timed out after 5s")})
    spec = _hooks(pre=[{"exec": {"command": ["freeze"], "timeout": "5s"}}])
    run, issues = _runner([_pod()], spec, transport)
    run.pre()
    assert transport.calls[0][4] == 5.0
    assert str(issues.errors[0]).endswith("failed: timed out after 5s")


def test_post_hooks_run_once_however_often_post_is_called() -> None:
    transport = RecordingExec()
    run, _ = _runner([_pod()], _hooks(post=[THAW]), transport)
    run.post()
    run.post()
    assert len(transport.calls) == 1


def test_pods_run_their_hooks_in_parallel_each_pod_in_order() -> None:
    barrier = threading.Barrier(3, timeout=5)

    class Meeting(RecordingExec):
        def __call__(self, **kwargs: Any) -> ExecResult:
            if kwargs["command"][0] == "first":
                barrier.wait()  # only passes if the three pods' first hooks run together
            return super().__call__(**kwargs)

    transport = Meeting()
    spec = _hooks(pre=[{"exec": {"command": ["first"]}}, {"exec": {"command": ["second"]}}])
    run, issues = _runner([_pod(f"db-{i}") for i in range(3)], spec, transport)
    run.pre()
    assert not issues.errors
    for i in range(3):
        mine = [c[3][0] for c in transport.calls if c[1] == f"db-{i}"]
        assert mine == ["first", "second"]


# -- the exec stream's status channel -------------------------------------------------------------
def test_exit_code_comes_from_the_status_channel() -> None:
    assert _exit_code(None, "/p") == 0
    assert _exit_code({"status": "Success"}, "/p") == 0
    failure = {
        "status": "Failure",
        "reason": "NonZeroExitCode",
        "details": {"causes": [{"reason": "ExitCode", "message": "3"}]},
    }
    assert _exit_code(failure, "/p") == 3
    with pytest.raises(ExecError, match="executable file not found"):
        _exit_code(
            {"status": "Failure", "message": 'exec: "fsfreeze": executable file not found'}, "/p"
        )

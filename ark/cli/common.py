"""What the commands share beyond ``context``: ark's custom resources by name through the
cluster client, flag parsing through the API models, and API errors in one line."""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, TypeVar

import click
from pydantic import BaseModel, ValidationError

from ark import control
from ark.api.kinds import Kind
from ark.api.types import parse_duration
from ark.cli import context
from ark.cli.context import BadFlag, CliError, Obj
from ark.kube import KubeApiError, KubeError

M = TypeVar("M", bound=BaseModel)


def names_of(kind: Kind) -> Callable[[click.Context, click.Parameter, str], list[str]]:
    """Shell completion of object names (quietly none when the cluster cannot be asked)."""

    def complete(ctx: click.Context, _param: click.Parameter, incomplete: str) -> list[str]:
        s = ctx.ensure_object(context.Settings)
        try:
            found = control.list_objects(s.client(), kind, s.namespace)
        except (KubeError, OSError):
            return []
        names = sorted(str(o["metadata"]["name"]) for o in found)
        return [n for n in names if n.startswith(incomplete)]

    return complete


# -- errors --------------------------------------------------------------------------------
def _unreachable_reason(exc: KubeError) -> str:
    text = str(exc.__cause__ or exc)
    found = re.search(r"\[Errno -?\d+\] ([^')\"]+)", text)
    if found:
        return found.group(1).strip()
    return text.rsplit(": ", 1)[-1][:200]


def explain(exc: KubeError, *, what: str = "") -> CliError:  # noqa: PLR0911 - one per case
    """One line for an API or connection error."""
    if not isinstance(exc, KubeApiError):
        server = context.servers[-1] if context.servers else "the API server"
        if "cannot load cluster configuration" in str(exc):
            return CliError(str(exc))
        return CliError(
            f"cannot reach the Kubernetes API server at {server}: {_unreachable_reason(exc)}"
        )
    if exc.not_found and not exc.reason and "/apis/ark.dev/" in exc.path:
        return CliError(
            "ark's custom resources are not installed in this cluster (no ark.dev API); "
            "run 'ark install' first"
        )
    prefix = f"{what}: " if what else ""
    if exc.status == 401:
        return CliError(f"{prefix}unauthorized: the kubeconfig's credentials were refused")
    if exc.status == 403:
        return CliError(f"{prefix}forbidden: {exc.message}")
    if exc.invalid:
        return CliError(f"{prefix}rejected by the API server: {exc.message}")
    return CliError(f"{prefix}{exc.message or exc}")


@contextmanager
def api_errors(what: str = "") -> Iterator[None]:
    try:
        yield
    except KubeError as exc:
        raise explain(exc, what=what) from None


# -- ark's custom resources ------------------------------------------------------------------
def label(kind: Kind) -> str:
    """How a kind reads in a sentence: ``backup``, ``backup storage location``."""
    return re.sub(r"(?<!^)([A-Z])", r" \1", kind.kind).lower()


def get(kind: Kind, name: str) -> Obj:
    s = context.settings()
    with api_errors():
        found = control.get(s.client(), kind, s.namespace, name)
    if found is None:
        with api_errors():  # a 404 for the collection too means the CRDs are not installed
            s.client().get(control.path(kind, s.namespace), query={"limit": 1})
        raise CliError(f'{label(kind)} "{name}" not found in namespace {s.namespace}')
    return found


def find(kind: Kind, name: str) -> Obj | None:
    s = context.settings()
    with api_errors():
        return control.get(s.client(), kind, s.namespace, name)


def list_all(kind: Kind, *, selector: str | None = None) -> list[Obj]:
    s = context.settings()
    try:
        items = control.list_objects(s.client(), kind, s.namespace, label_selector=selector)
    except KubeApiError as exc:
        if selector is not None and exc.status == 400:  # the server cannot parse the selector
            raise BadFlag("--selector", exc.message) from None
        raise explain(exc) from None
    except KubeError as exc:
        raise explain(exc) from None
    return sorted(items, key=lambda o: str(o["metadata"]["name"]))


def get_many(kind: Kind, names: tuple[str, ...], *, selector: str | None = None) -> list[Obj]:
    if names:
        return [get(kind, n) for n in names]
    return list_all(kind, selector=selector)


def create(kind: Kind, obj: Obj) -> Obj:
    s = context.settings()
    name = obj["metadata"].get("name", "")
    with api_errors(f'{label(kind)} "{name}"'):
        made = control.create(s.client(), kind, s.namespace, obj)
    if made is None:
        raise CliError(f'{label(kind)} "{name}" already exists in namespace {s.namespace}')
    return made


def patch(kind: Kind, name: str, body: Obj) -> None:
    s = context.settings()
    with api_errors(f'{label(kind)} "{name}"'):
        found = control.patch(s.client(), kind, s.namespace, name, body)
    if not found:
        raise CliError(f'{label(kind)} "{name}" not found in namespace {s.namespace}')


def confirm(
    question: str, *, confirmed: bool, verb: str = "delete", declined: str = "nothing deleted"
) -> None:
    """Go on when ``--confirm`` was given or the user says yes at a terminal; else nothing is
    done (exit status 2 without a terminal to ask on, ``declined`` when the user says no)."""
    if confirmed:
        return
    if not sys.stdin.isatty():
        raise CliError(f"refusing to {verb} without --confirm (no terminal to ask on)", code=2)
    if not click.confirm(question, default=False):
        raise CliError(declined)


def delete(kind: Kind, name: str) -> None:
    s = context.settings()
    with api_errors(f'{label(kind)} "{name}"'):
        found = control.delete(s.client(), kind, s.namespace, name)
    if not found:
        raise CliError(f'{label(kind)} "{name}" not found in namespace {s.namespace}')


def wire(kind: Kind, name: str, spec: BaseModel, *, labels: Mapping[str, str] | None = None) -> Obj:
    """A whole object as the API server takes it."""
    if (too_long := kind.check_name(name)) is not None:
        raise BadFlag("NAME", too_long)
    metadata: Obj = {"name": name, "namespace": context.settings().namespace}
    if labels:
        metadata["labels"] = dict(labels)
    spec_wire = spec.model_dump(mode="json", by_alias=True, exclude_none=True, exclude_unset=True)
    return {
        "apiVersion": kind.api_version,
        "kind": kind.kind,
        "metadata": metadata,
        "spec": spec_wire,
    }


# -- flags through the models ---------------------------------------------------------------
def build(model: type[M], values: Mapping[str, Any], flags: Mapping[str, str]) -> M:
    """``model`` from flag values (None = not given); a refusal names the flag."""
    given = {k: v for k, v in values.items() if v is not None}
    try:
        return model.model_validate(given)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = [str(p) for p in err["loc"]]
        flag = next((flags[p] for p in loc if p in flags), None)
        if flag is None:
            flag = " / ".join(sorted(set(flags.values()) & set(_flags_in(err["msg"], flags))))
        message = _message(err)
        if not flag:
            raise CliError(message, code=2) from None
        raise BadFlag(flag, message) from None


def _flags_in(message: str, flags: Mapping[str, str]) -> list[str]:
    return [flag for name, flag in flags.items() if name in message]


def _message(err: Any) -> str:
    msg = str(err["msg"]).removeprefix("Value error, ")
    if err["type"] == "string_pattern_mismatch":
        pattern = str(err["ctx"]["pattern"])
        return f"{err['input']!r} is not valid" + (
            f" (want {pattern})" if len(pattern) < 60 else ""
        )
    return msg


def csv(value: str | None) -> list[str] | None:
    """``a,b,,c`` -> [a, b, c]; None stays None (flag not given)."""
    if value is None:
        return None
    return [part.strip() for part in value.split(",") if part.strip()]


def key_values(value: str | None, *, flag: str, sep: str = "=") -> dict[str, str] | None:
    """``k1=v1,k2=v2`` -> {k1: v1, k2: v2}."""
    if value is None:
        return None
    out: dict[str, str] = {}
    for part in csv(value) or []:
        key, found, val = part.partition(sep)
        if not found or not key.strip():
            raise BadFlag(flag, f"{part!r} is not key{sep}value")
        out[key.strip()] = val.strip()
    return out


def duration(value: str | None, *, flag: str) -> str | None:
    if value is None:
        return None
    try:
        parse_duration(value)
    except ValueError as exc:
        raise BadFlag(flag, str(exc)) from None
    return value


def bool_flag(value: str | None, *, flag: str) -> bool | None:
    """``true``/``false`` (Velero's spelling of optional booleans); None when not given."""
    if value is None:
        return None
    lowered = value.strip().lower()
    if lowered in {"true", "t", "yes", "1"}:
        return True
    if lowered in {"false", "f", "no", "0"}:
        return False
    raise BadFlag(flag, f"{value!r} is not true or false")

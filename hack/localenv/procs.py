"""Start, watch and stop the local servers that ark is tested against.

Every server runs in its own session (process group) with its pid recorded in a state file, so
`down` stops exactly what `up` started and nothing else, even after the starting shell is gone.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HACK = Path(__file__).resolve().parent.parent


class StepError(RuntimeError):
    """A named step of bringing up the local environment failed."""

    def __init__(self, step: str, cause: str) -> None:
        super().__init__(f"{step}: {cause}")
        self.step = step


def _versions() -> dict[str, str]:
    """Read hack/versions.sh through bash, so overrides from the environment apply."""
    out = subprocess.run(
        ["bash", "-c", f"set -a && source {HACK / 'versions.sh'} && env"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)


VERSIONS = _versions()
CACHE = Path(VERSIONS["ARK_CACHE"])
BIN = Path(VERSIONS["ARK_BIN"])
RUN = Path(os.environ.get("ARK_RUN_DIR", str(CACHE / "run")))


def binary(name: str, version_var: str, *, build_target: str) -> Path:
    """The cached binary `name`, building it with hack/build-tools when it is missing."""
    return ensure_built(BIN / f"{name}-{VERSIONS[version_var]}", build_target=build_target)


def ensure_built(path: Path, *, build_target: str) -> Path:
    """`path`, after running `hack/build-tools build_target` if it does not exist yet."""
    if not path.exists():
        result = subprocess.run([str(HACK / "build-tools"), build_target], check=False)
        if result.returncode != 0 or not path.exists():
            raise StepError(f"build {build_target}", f"hack/build-tools {build_target} failed")
    return path


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie (exited, not yet reaped) is not alive for our purposes.
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


@dataclass
class Instance:
    """The state of one named environment (a cluster or an object store), kept on disk."""

    kind: str
    name: str
    directory: Path
    pids: dict[str, int] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def state_file(self) -> Path:
        return self.directory / "state.json"

    def save(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        tmp = self.state_file.with_suffix(".tmp")
        tmp.write_text(json.dumps({"pids": self.pids, "info": self.info}, indent=2))
        tmp.replace(self.state_file)

    @classmethod
    def load(cls, kind: str, name: str) -> Instance:
        directory = RUN / kind / name
        inst = cls(kind=kind, name=name, directory=directory)
        if inst.state_file.exists():
            data = json.loads(inst.state_file.read_text())
            inst.pids = {k: int(v) for k, v in data.get("pids", {}).items()}
            inst.info = data.get("info", {})
        return inst

    def running(self) -> bool:
        return bool(self.pids) and all(pid_alive(p) for p in self.pids.values())

    def start(
        self,
        role: str,
        argv: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
    ) -> int:
        """Start `argv` in a new session, logging to <dir>/<role>.log; record its pid."""
        log = (self.directory / f"{role}.log").open("ab")
        proc = subprocess.Popen(
            list(argv),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            env={**os.environ, **(env or {})},
            cwd=cwd,
        )
        log.close()
        self.pids[role] = proc.pid
        self.save()
        return proc.pid

    def log_tail(self, role: str, lines: int = 15) -> str:
        path = self.directory / f"{role}.log"
        if not path.exists():
            return "(no log)"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])

    def stop(self, *, timeout: float = 15.0) -> list[str]:
        """Stop every recorded process group (SIGTERM, then SIGKILL); return what was stopped."""
        stopped: list[str] = []
        # Stop in reverse start order: clients before the servers they talk to.
        for role, pid in reversed(list(self.pids.items())):
            if _terminate(pid, timeout=timeout):
                stopped.append(f"{role} (pid {pid})")
        self.pids = {}
        if self.directory.exists():
            self.save()
        return stopped

    def stop_role(self, role: str, *, timeout: float = 15.0) -> str | None:
        """Stop one recorded process group and forget it; what was stopped, if it ran."""
        pid = self.pids.pop(role, None)
        if self.directory.exists():
            self.save()
        if pid is None or not _terminate(pid, timeout=timeout):
            return None
        return f"{role} (pid {pid})"


def _terminate(pid: int, *, timeout: float) -> bool:
    """SIGTERM the group of ``pid``, SIGKILL it after ``timeout``; False if it was not running."""
    if not pid_alive(pid):
        return False
    _signal_group(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while pid_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    if pid_alive(pid):
        _signal_group(pid, signal.SIGKILL)
        while pid_alive(pid):
            time.sleep(0.05)
    return True


def crash(inst: Instance) -> list[str]:
    """SIGKILL every process of ``inst`` at once, keeping its state and data (a crash)."""
    killed = [f"{role} (pid {pid})" for role, pid in inst.pids.items() if pid_alive(pid)]
    for pid in inst.pids.values():
        _signal_group(pid, signal.SIGKILL)
    for pid in inst.pids.values():
        while pid_alive(pid):
            time.sleep(0.02)
    return killed


def _signal_group(pid: int, sig: signal.Signals) -> None:
    try:
        os.killpg(pid, sig)
    except ProcessLookupError:
        return
    except PermissionError:
        os.kill(pid, sig)


def wait_until(
    what: str,
    check: Callable[[], bool],
    *,
    timeout: float,
    inst: Instance,
    role: str,
) -> None:
    """Poll `check` until it holds; fail naming the step and showing the server's log tail."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pid = inst.pids.get(role)
        if pid is not None and not pid_alive(pid):
            raise StepError(what, f"{role} exited; last log lines:\n{inst.log_tail(role)}")
        try:
            if check():
                return
        except Exception:  # noqa: S110 - not ready yet; retried until the deadline
            pass
        time.sleep(0.2)
    raise StepError(what, f"not ready after {timeout:.0f}s; last log lines:\n{inst.log_tail(role)}")


def tcp_open(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def print_env(env: Mapping[str, str], *, as_json: bool) -> None:
    if as_json:
        print(json.dumps(dict(env), indent=2))
    else:
        for key, value in env.items():
            print(f"export {key}={_shell_quote(value)}")


def _shell_quote(value: str) -> str:
    return "'" + value.replace("'", "'\"'\"'") + "'"

"""The pods/exec transport's stream handling: channels, exit codes, timeouts, output bounds.

What the real API server answers without a kubelet (refusals) is tested in
tests/backup/test_hooks.py and tests/operator/test_deploy.py, and here through a real CONNECT
proxy (a kubeconfig's ``proxy-url``). A *running* command's stream only
exists with a kubelet, which the local cluster lacks, so here ``StandInExecStream`` — a
stand-in, named as such — speaks the server side of the ``v5.channel.k8s.io`` protocol as
kube-apiserver relays it from a kubelet: a WebSocket upgrade, then binary frames whose first
byte is the channel (1 stdout, 2 stderr, 3 the metav1.Status), then a close.
"""

from __future__ import annotations

import base64
import hashlib
import socket
import struct
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import orjson
import pytest
import yaml
from kubernetes import client as k8s

from ark.kube import KubeApiError, KubeClient
from ark.kube.podexec import OUTPUT_LIMIT, ExecError, ExecResult, PodExec
from tests.conftest import Cluster
from tests.support.proxy import ConnectProxy, read_head

_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
SUCCESS = orjson.dumps({"metadata": {}, "status": "Success"})


def _exit(code: int) -> bytes:
    return orjson.dumps(
        {
            "metadata": {},
            "status": "Failure",
            "message": f"command terminated with non-zero exit code: exit status {code}",
            "reason": "NonZeroExitCode",
            "details": {"causes": [{"reason": "ExitCode", "message": str(code)}]},
        }
    )


@dataclass
class Script:
    """What the stand-in does on the next connection."""

    frames: Sequence[tuple[int, bytes]] = ()
    refuse: tuple[int, bytes] | None = None
    hang: bool = False


@dataclass
class StandInExecStream:
    """STAND-IN for kube-apiserver relaying a kubelet's exec stream (no kubelet exists here)."""

    script: Script = field(default_factory=Script)
    requests: list[tuple[str, dict[str, list[str]], dict[str, str]]] = field(default_factory=list)

    def serve(self, listener: socket.socket) -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            threading.Thread(target=self._one, args=(conn,), daemon=True).start()

    def _one(self, conn: socket.socket) -> None:
        with conn:
            head = read_head(conn)
            if head is None:
                return
            request_line, headers = head
            target = urlsplit(request_line.split(" ")[1])
            query: dict[str, list[str]] = {}
            for k, v in parse_qsl(target.query):
                query.setdefault(k, []).append(v)
            self.requests.append((target.path, query, headers))
            script = self.script
            if script.refuse is not None:
                status, body = script.refuse
                conn.sendall(
                    f"HTTP/1.1 {status} Refused\r\nContent-Type: application/json\r\n"
                    f"Content-Length: {len(body)}\r\n\r\n".encode()
                    + body
                )
                return
            accept = base64.b64encode(
                hashlib.sha1((headers["sec-websocket-key"] + _GUID).encode()).digest()  # noqa: S324
            ).decode()
            conn.sendall(
                b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                b"Connection: Upgrade\r\nSec-WebSocket-Protocol: v5.channel.k8s.io\r\n"
                + f"Sec-WebSocket-Accept: {accept}\r\n\r\n".encode()
            )
            if script.hang:
                time.sleep(5)
                return
            for channel, payload in script.frames:
                conn.sendall(_frame(0x82, bytes([channel]) + payload))
            conn.sendall(_frame(0x88, b""))
            time.sleep(0.2)  # let the client read the close before the socket goes


def _frame(opcode: int, payload: bytes) -> bytes:
    size = len(payload)
    if size < 126:
        return bytes([opcode, size]) + payload
    if size < 1 << 16:
        return bytes([opcode, 126]) + struct.pack("!H", size) + payload
    return bytes([opcode, 127]) + struct.pack("!Q", size) + payload


@pytest.fixture
def stream() -> Iterator[tuple[StandInExecStream, PodExec]]:
    listener = socket.create_server(("127.0.0.1", 0))
    stand_in = StandInExecStream()
    threading.Thread(target=stand_in.serve, args=(listener,), daemon=True).start()
    configuration = k8s.Configuration()
    configuration.host = f"http://127.0.0.1:{listener.getsockname()[1]}"
    configuration.api_key = {"BearerToken": "t0ken"}
    configuration.api_key_prefix = {"BearerToken": "Bearer"}
    with KubeClient(k8s.ApiClient(configuration)) as kube:
        yield stand_in, PodExec(kube)
    listener.close()


def _run(exec_: PodExec, *, timeout: float = 5.0) -> ExecResult:
    return exec_(
        namespace="shop",
        pod="db-0",
        container="db",
        command=["sh", "-c", "fsfreeze --freeze /data && echo ok"],
        timeout=timeout,
    )


def test_a_command_that_succeeds_returns_its_output(
    stream: tuple[StandInExecStream, PodExec],
) -> None:
    stand_in, exec_ = stream
    stand_in.script = Script(frames=[(1, b"frozen\n"), (2, b"note\n"), (1, b"ok\n"), (3, SUCCESS)])
    result = _run(exec_)
    assert (result.exit_code, result.stdout, result.stderr) == (0, "frozen\nok\n", "note\n")
    [(path, query, headers)] = stand_in.requests
    assert path == "/api/v1/namespaces/shop/pods/db-0/exec"
    assert query == {
        "command": ["sh", "-c", "fsfreeze --freeze /data && echo ok"],
        "container": ["db"],
        "stdout": ["true"],
        "stderr": ["true"],
    }
    assert headers["authorization"] == "Bearer t0ken"
    assert (
        headers["sec-websocket-protocol"].replace(" ", "") == "v5.channel.k8s.io,v4.channel.k8s.io"
    )


def test_a_non_zero_exit_is_a_result_not_an_error(
    stream: tuple[StandInExecStream, PodExec],
) -> None:
    stand_in, exec_ = stream
    stand_in.script = Script(frames=[(2, b"fsfreeze: /data: Device busy\n"), (3, _exit(3))])
    result = exec_(namespace="shop", pod="db-0", container="db", command=["x"], timeout=5)
    assert result.exit_code == 3 and result.stderr == "fsfreeze: /data: Device busy\n"


def test_a_failure_that_is_no_exit_code_names_the_servers_message(
    stream: tuple[StandInExecStream, PodExec],
) -> None:
    stand_in, exec_ = stream
    message = 'exec: "fsfreeze": executable file not found in $PATH'
    failure = {"status": "Failure", "message": message, "reason": "InternalError"}
    stand_in.script = Script(frames=[(3, orjson.dumps(failure))])
    with pytest.raises(ExecError, match="executable file not found"):
        _run(exec_)


def test_a_command_that_outlives_its_timeout_is_abandoned(
    stream: tuple[StandInExecStream, PodExec],
) -> None:
    stand_in, exec_ = stream
    stand_in.script = Script(hang=True)
    began = time.monotonic()
    with pytest.raises(ExecError, match=r"timed out after 0\.5s"):
        _run(exec_, timeout=0.5)
    assert time.monotonic() - began < 3


def test_output_is_bounded_to_its_tail(stream: tuple[StandInExecStream, PodExec]) -> None:
    stand_in, exec_ = stream
    chunk = b"x" * 60_000
    stand_in.script = Script(frames=[(1, chunk), (1, chunk), (1, b"THE END"), (3, SUCCESS)])
    result = exec_(namespace="shop", pod="db-0", container="db", command=["x"], timeout=5)
    assert len(result.stdout) == OUTPUT_LIMIT and result.stdout.endswith("xTHE END")


def test_a_refused_upgrade_carries_the_servers_status(
    stream: tuple[StandInExecStream, PodExec],
) -> None:
    stand_in, exec_ = stream
    body = orjson.dumps(
        {
            "kind": "Status",
            "status": "Failure",
            "message": 'pods "db-0" is forbidden: cannot create resource "pods/exec"',
            "reason": "Forbidden",
            "code": 403,
        }
    )
    stand_in.script = Script(refuse=(403, body))
    with pytest.raises(KubeApiError) as refused:
        _run(exec_)
    assert refused.value.status == 403 and refused.value.reason == "Forbidden"
    assert "cannot create resource" in str(refused.value)


def test_a_server_that_is_not_there_is_a_clear_error() -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
    configuration = k8s.Configuration()
    configuration.host = f"http://127.0.0.1:{port}"
    with KubeClient(k8s.ApiClient(configuration)) as kube, pytest.raises(ExecError) as failed:
        PodExec(kube)(namespace="shop", pod="db-0", container="db", command=["x"], timeout=2)
    assert f"127.0.0.1:{port}" in str(failed.value)


# -- through a proxy: the real API server behind a real CONNECT proxy ------------------------
def _proxied_kubeconfig(cluster: Cluster, tmp_path: Path, proxy_url: str) -> str:
    config = yaml.safe_load(Path(cluster.kubeconfig).read_text())
    for entry in config["clusters"]:
        entry["cluster"]["proxy-url"] = proxy_url
    path = tmp_path / "kubeconfig"
    path.write_text(yaml.safe_dump(config))
    return str(path)


def _exec_missing_pod(kube: KubeClient) -> None:
    PodExec(kube)(
        namespace="default", pod="no-such-pod", container="c", command=["true"], timeout=10
    )


def _server_address(cluster: Cluster) -> str:
    return urlsplit(cluster.server).netloc


def test_the_stream_goes_through_the_kubeconfigs_proxy(cluster: Cluster, tmp_path: Path) -> None:
    with ConnectProxy().running() as proxy:
        kubeconfig = _proxied_kubeconfig(cluster, tmp_path, f"http://127.0.0.1:{proxy.port}")
        with KubeClient.load(kubeconfig=kubeconfig) as kube:
            with pytest.raises(KubeApiError) as refused:
                _exec_missing_pod(kube)
            assert refused.value.status == 404  # the API server's answer, through the tunnel
            assert proxy.tunnels == [_server_address(cluster)]
            kube.request("GET", "/api/v1/namespaces/default")  # and the REST requests
            assert proxy.tunnels == [_server_address(cluster)] * 2


def test_the_proxys_credentials_come_from_the_proxy_url(cluster: Cluster, tmp_path: Path) -> None:
    with ConnectProxy(credentials=("ark", "p@ss word")).running() as proxy:
        good = _proxied_kubeconfig(
            cluster, tmp_path, f"http://ark:p%40ss%20word@127.0.0.1:{proxy.port}"
        )
        with KubeClient.load(kubeconfig=good) as kube, pytest.raises(KubeApiError) as refused:
            _exec_missing_pod(kube)
        assert refused.value.status == 404
        assert proxy.tunnels == [_server_address(cluster)]

        bad = _proxied_kubeconfig(cluster, tmp_path, f"http://ark:wrong@127.0.0.1:{proxy.port}")
        with KubeClient.load(kubeconfig=bad) as kube, pytest.raises(ExecError) as failed:
            _exec_missing_pod(kube)
        assert f"through proxy 127.0.0.1:{proxy.port}" in str(failed.value)
        assert "407" in str(failed.value)
        assert proxy.refused == [_server_address(cluster)]
        assert len(proxy.tunnels) == 1


def test_a_server_no_proxy_covers_is_reached_directly(cluster: Cluster, tmp_path: Path) -> None:
    with ConnectProxy().running() as proxy:
        kubeconfig = _proxied_kubeconfig(cluster, tmp_path, f"http://127.0.0.1:{proxy.port}")
        with KubeClient.load(kubeconfig=kubeconfig) as kube:
            kube.api.configuration.no_proxy = "127.0.0.1"
            with pytest.raises(KubeApiError) as refused:
                _exec_missing_pod(kube)
        assert refused.value.status == 404
        assert proxy.tunnels == []


def test_an_https_proxy_is_refused_before_connecting(cluster: Cluster, tmp_path: Path) -> None:
    with ConnectProxy().running() as proxy:
        kubeconfig = _proxied_kubeconfig(cluster, tmp_path, f"https://127.0.0.1:{proxy.port}")
        with KubeClient.load(kubeconfig=kubeconfig) as kube, pytest.raises(ExecError) as failed:
            _exec_missing_pod(kube)
        assert "https://" in str(failed.value)
        assert "127.0.0.1" in str(failed.value)
        assert proxy.tunnels == [] and proxy.refused == []

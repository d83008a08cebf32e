"""``ark dashboard``'s refusals before it serves: an address that is not loopback (exit status
2, naming the flag), a port already taken (1, saying so)."""

from __future__ import annotations

import contextlib
import io
import socket

from ark.cli.main import main
from tests.conftest import Cluster


def _run(*argv: str) -> tuple[int, str]:
    err = io.StringIO()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
        code = main(list(argv))
    return code, err.getvalue()


def test_an_address_other_than_loopback_is_refused() -> None:
    code, err = _run("dashboard", "--address", "0.0.0.0")  # noqa: S104

    assert code == 2
    assert err.startswith("ark: invalid value for --address: 0.0.0.0 is not a loopback address")


def test_a_port_in_use_is_one_line(cluster: Cluster, ark_crds: list[str]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]

        code, err = _run("--kubeconfig", cluster.kubeconfig, "dashboard", "--port", str(port))

    assert code == 1
    assert err == f"ark: cannot listen on 127.0.0.1:{port}: Address already in use\n"

"""Restore tests use the stores and the realistic namespace of tests/conftest.py."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from ark.kube import KubeClient
from tests.support import restores


@pytest.fixture
def group(kube: KubeClient) -> Iterator[str]:
    """A CRD group of this test's own; its CRD ``gadgets.<group>`` is deleted when it ends."""
    name = f"{restores.unique('g')}.ark.test"
    yield name
    restores.remove_crd(kube, f"gadgets.{name}")


@pytest.fixture
def fresh_namespace(kube: KubeClient) -> Iterator[Callable[[str], str]]:
    """Names for namespaces a restore creates (not created here); deleted when the test ends."""
    names: list[str] = []

    def make(prefix: str = "rt") -> str:
        names.append(restores.unique(prefix))
        return names[-1]

    yield make
    for name in names:
        restores.delete(kube, f"/api/v1/namespaces/{name}")

"""Paginated LISTs: every object once, in order, the next page asked for before this one is
parsed (its continue token is read from the bytes ahead of the items), and the interpreter
switching threads often enough while it is read ahead."""

from __future__ import annotations

import gc
import sys

import orjson
import pytest

from ark.kube import KubeClient, discover, list_pages
from ark.kube._interpreter import SWITCH_INTERVAL
from ark.kube.listing import _UNKNOWN, Page, _peek_continue, for_each_page

CONFIGMAPS = 23


@pytest.fixture
def filled(kube: KubeClient, namespace: str) -> str:
    for i in range(CONFIGMAPS):
        kube.request(
            "POST",
            f"/api/v1/namespaces/{namespace}/configmaps",
            body={"metadata": {"name": f"cm-{i:02d}"}, "data": {"i": str(i)}},
        )
    return namespace


def test_pages_hold_every_object_once_in_key_order(kube: KubeClient, filled: str) -> None:
    configmaps = discover(kube).by_qualified("configmaps")
    assert configmaps is not None
    pages = list(list_pages(kube, configmaps, namespace=filled, limit=5))
    names = [i["metadata"]["name"] for p in pages for i in p.items]
    expected = sorted([f"cm-{i:02d}" for i in range(CONFIGMAPS)] + ["kube-root-ca.crt"])
    assert names == expected
    assert [len(p.items) for p in pages] == [5, 5, 5, 5, 4]
    assert [p.remaining for p in pages][:-1] == [19, 14, 9, 4]
    assert {(i["apiVersion"], i["kind"]) for p in pages for i in p.items} == {("v1", "ConfigMap")}


def test_the_token_read_ahead_is_the_one_the_page_holds(kube: KubeClient, filled: str) -> None:
    path = f"/api/v1/namespaces/{filled}/configmaps"
    first = kube.request("GET", path, query={"limit": 5})
    token = orjson.loads(first)["metadata"]["continue"]
    assert token and _peek_continue(first) == token
    last = kube.request("GET", path, query={"limit": 500})
    assert _peek_continue(last) is None  # one page: nothing follows


@pytest.mark.parametrize(
    "raw",
    [
        b'{"items":[],"metadata":{"continue":"x"}}',  # items first: the page must be parsed
        b'{"kind":"List","apiVersion":"v1","items":[]}',  # no metadata ahead of the items
        b'{"kind":"List","metadata":"odd","items":[]}',
        b'{"kind":"List","metadata":{"continue":"x"}',  # no items at all
        b"not json",
        b"",
    ],
)
def test_an_unusual_response_is_parsed_whole_instead(raw: bytes) -> None:
    assert _peek_continue(raw) is _UNKNOWN


def test_reading_ahead_shortens_the_switch_interval_while_lists_last(
    kube: KubeClient, filled: str
) -> None:
    configmaps = discover(kube).by_qualified("configmaps")
    assert configmaps is not None
    before = sys.getswitchinterval()
    assert before > SWITCH_INTERVAL
    single = list_pages(kube, configmaps, namespace=filled, limit=500)
    next(single)
    assert sys.getswitchinterval() == before  # one page: nothing is read ahead
    single.close()
    first = list_pages(kube, configmaps, namespace=filled, limit=5)
    second = list_pages(kube, configmaps, namespace=filled, limit=5)
    next(first)
    next(second)
    assert sys.getswitchinterval() == pytest.approx(SWITCH_INTERVAL)
    assert sum(len(page.items) for page in first) == 19  # first ran to its end
    assert sys.getswitchinterval() == pytest.approx(SWITCH_INTERVAL)  # second still reads ahead
    second.close()  # a list given up half-way restores it too
    assert sys.getswitchinterval() == before


def test_each_page_is_handled_with_the_collector_paused(kube: KubeClient, filled: str) -> None:
    configmaps = discover(kube).by_qualified("configmaps")
    assert configmaps is not None
    names: list[str] = []
    paused: list[bool] = []

    def handle(page: Page) -> None:
        paused.append(not gc.isenabled())
        names.extend(i["metadata"]["name"] for i in page.items)

    for_each_page(kube, configmaps, handle, namespace=filled, limit=5)
    assert names == sorted([f"cm-{i:02d}" for i in range(CONFIGMAPS)] + ["kube-root-ca.crt"])
    assert paused == [True] * 5
    assert gc.isenabled()

"""Cluster I/O: a fast raw-JSON client, discovery, paginated LISTs, writes and waits."""

from ark.kube.client import KubeClient, TooDeep, encode_json, object_path
from ark.kube.discovery import ApiResource, Discovery, discover
from ark.kube.errors import KubeApiError, KubeError
from ark.kube.listing import Page, count, list_pages

__all__ = [
    "ApiResource",
    "Discovery",
    "KubeApiError",
    "KubeClient",
    "KubeError",
    "Page",
    "TooDeep",
    "count",
    "discover",
    "encode_json",
    "list_pages",
    "object_path",
]

"""A package's names imported when first used (PEP 562), so importing one of its modules does
not import all of them (a verify worker process imports only what it runs)."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping


def exports(package: str, names: Mapping[str, str]) -> Callable[[str], object]:
    """The ``__getattr__`` of ``package``: each of ``names`` (name -> the module defining it)
    imported on first use and kept in the package."""
    namespace = sys.modules[package].__dict__

    def attribute(name: str) -> object:
        module = names.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        namespace[name] = value
        return value

    return attribute

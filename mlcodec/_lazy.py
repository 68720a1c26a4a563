"""PEP 562 lazy exports shared by the package ``__init__`` files: a name is imported from its
module on first access and cached in the package, so ``import mlcodec.x`` stays cheap."""
from __future__ import annotations

import importlib
from typing import Callable


def lazy_exports(package: str, namespace: dict, exports: dict[str, str]) -> tuple[Callable, Callable]:
    """``(__getattr__, __dir__)`` serving ``exports`` (name -> submodule of ``package``)."""

    def __getattr__(name: str):
        mod = exports.get(name)
        if mod is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f"{package}.{mod}"), name)
        namespace[name] = value
        return value

    def __dir__():
        return sorted(set(namespace) | set(exports))

    return __getattr__, __dir__

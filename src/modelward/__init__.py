"""modelward: keeps machine-learning models healthy after they ship.

The public API is what ``__all__`` lists; everything else may change. Heavy parts are
imported on first use, so ``import modelward.monitoring`` does not load the database layer.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from modelward.errors import ModelwardError

if TYPE_CHECKING:
    from modelward.monitoring import DriftReport, FeatureResult, Finding, Profile, check_quality
    from modelward.workspace import ReproduceReport, Workspace

__version__ = "0.1.0"

__all__ = [
    "DriftReport",
    "FeatureResult",
    "Finding",
    "ModelwardError",
    "Profile",
    "ReproduceReport",
    "Workspace",
    "__version__",
    "check_quality",
]

_LAZY = {
    "Workspace": "modelward.workspace",
    "ReproduceReport": "modelward.workspace",
    "Profile": "modelward.monitoring",
    "DriftReport": "modelward.monitoring",
    "FeatureResult": "modelward.monitoring",
    "Finding": "modelward.monitoring",
    "check_quality": "modelward.monitoring",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'modelward' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)

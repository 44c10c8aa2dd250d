"""Concept-drift detectors on the labeled error stream (river's ADWIN, DDM and Page-Hinkley).

Once labels arrive, a model's per-row errors (0/1 for a classifier, or a real-valued loss such as the
absolute error of a regressor) form a stream; a change in its level means the relation between features
and label moved — concept drift, which covariate-shift estimators such as CBPE cannot see. Each detector
is fed the whole stream in order; the result lists the indexes where it entered its warning zone (DDM
only; ADWIN and Page-Hinkley have none) and where it signalled drift. River's detectors reset after a
detection, so later indexes are changes after the previous one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields
from typing import Any

import numpy as np

from modelward.errors import ConfigError, DataError
from modelward.monitoring._json import jsonable
from modelward.monitoring.performance import _inputs

#: Detector name -> (river class path, has a warning zone, needs a 0/1 stream).
DETECTORS: dict[str, tuple[str, bool, bool]] = {
    "adwin": ("river.drift.ADWIN", False, False),
    "ddm": ("river.drift.binary.DDM", True, True),
    "page_hinkley": ("river.drift.PageHinkley", False, False),
}


@dataclass(frozen=True)
class ConceptDriftResult:
    """What one detector saw on the error stream.

    Attributes:
        detector: ``"adwin"``, ``"ddm"`` or ``"page_hinkley"``; ``implementation`` the river class used
            and ``params`` the parameters it was given (river's defaults when empty).
        warnings: indexes where the detector entered its warning zone (empty for detectors without one;
            ``has_warnings`` says which).
        detections: indexes where it signalled drift.
        n: length of the stream.
    """

    detector: str
    warnings: tuple[int, ...]
    detections: tuple[int, ...]
    n: int
    has_warnings: bool
    implementation: str
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def drift_detected(self) -> bool:
        return bool(self.detections)

    @property
    def first_detection(self) -> int | None:
        return self.detections[0] if self.detections else None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = jsonable(asdict(self))
        out["drift_detected"] = self.drift_detected
        return out

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any]) -> ConceptDriftResult:
        """The result :meth:`to_dict` wrote."""
        values = {f.name: doc[f.name] for f in fields(cls) if f.name in doc}
        values["warnings"] = tuple(values["warnings"])
        values["detections"] = tuple(values["detections"])
        return cls(**values)


def _detector(name: str, params: Mapping[str, Any]) -> Any:
    from river import drift
    from river.drift import binary

    factories: dict[str, Any] = {"adwin": drift.ADWIN, "ddm": binary.DDM, "page_hinkley": drift.PageHinkley}
    try:
        return factories[name](**params)
    except TypeError as exc:
        raise ConfigError(
            f"Bad parameters for the {name} detector ({DETECTORS[name][0]}): {exc}. Given: {dict(params)}."
        ) from exc


def detect_concept_drift(
    errors: Any,
    *,
    detectors: Sequence[str] | None = None,
    params: Mapping[str, Mapping[str, Any]] | None = None,
) -> list[ConceptDriftResult]:
    """Run concept-drift detectors over an error stream, in order.

    Args:
        errors: per-row errors in arrival order: 0/1 (misclassified) or real-valued losses.
        detectors: names from :data:`DETECTORS`. Default: all three for a 0/1 stream; ADWIN and
            Page-Hinkley for a real-valued one (DDM models a Bernoulli error rate and refuses other values).
        params: per-detector keyword arguments for the river class, e.g. ``{"adwin": {"delta": 0.01}}``.

    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> stream = np.r_[rng.uniform(size=3000) < 0.1, rng.uniform(size=3000) < 0.3].astype(int)
    >>> for r in detect_concept_drift(stream):          # the error rate triples at index 3000
    ...     print(r.detector, r.detections, len(r.warnings) > 0)
    adwin (3103,) False
    ddm (2056, 3088) True
    page_hinkley (3174,) False
    """
    values = _inputs.numbers(errors, "errors")
    binary = bool(np.all((values == 0.0) | (values == 1.0)))
    names = (
        list(detectors) if detectors is not None else [d for d in DETECTORS if binary or not DETECTORS[d][2]]
    )
    params = dict(params or {})
    unknown = [d for d in [*names, *params] if d not in DETECTORS]
    if unknown or not names:
        raise ConfigError(
            f"Unknown concept-drift detector {unknown or 'list (empty)'}; choose from {', '.join(DETECTORS)}."
        )
    results = []
    for name in names:
        implementation, has_warnings, needs_binary = DETECTORS[name]
        if needs_binary and not binary:
            raise DataError(
                f"The {name} detector needs a 0/1 error stream (1 = wrong prediction), but the "
                "stream has other values; use adwin or page_hinkley for real-valued losses."
            )
        given = dict(params.get(name, {}))
        detector = _detector(name, given)
        stream = values.astype(bool).tolist() if needs_binary else values.tolist()
        warnings: list[int] = []
        detections: list[int] = []
        warned = False
        for i, x in enumerate(stream):
            detector.update(x)
            if has_warnings:
                now = bool(detector.warning_detected)
                if now and not warned:
                    warnings.append(i)
                warned = now
            if detector.drift_detected:
                detections.append(i)
                warned = False
        results.append(
            ConceptDriftResult(
                name, tuple(warnings), tuple(detections), len(stream), has_warnings, implementation, given
            )
        )
    return results

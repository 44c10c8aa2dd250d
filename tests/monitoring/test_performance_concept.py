"""Concept-drift detectors over the error stream: river's detectors, indexes and warnings recorded."""

from __future__ import annotations

import json

import numpy as np
import pytest
from river import drift
from river.drift import binary

from modelward.errors import ConfigError, DataError
from modelward.monitoring.performance import ConceptDriftResult, detect_concept_drift


def _shifted(seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.r_[rng.uniform(size=5000) < 0.1, rng.uniform(size=5000) < 0.25].astype(int)


@pytest.mark.parametrize("seed", range(5))
def test_an_error_rate_jump_is_detected_after_it_happens(seed: int) -> None:
    results = {r.detector: r for r in detect_concept_drift(_shifted(seed))}
    assert list(results) == ["adwin", "ddm", "page_hinkley"]
    delays = {name: min(d for d in r.detections if d >= 5000) - 5000 for name, r in results.items()}
    print(f"seed {seed}: detection delays after the change at 5000: {delays}")
    assert delays["adwin"] < 500 and delays["page_hinkley"] < 600 and delays["ddm"] < 2500
    assert not [d for d in results["adwin"].detections if d < 5000]  # ADWIN: no false alarm before it
    ddm = results["ddm"]
    assert ddm.has_warnings and not results["adwin"].has_warnings
    after = next(d for d in ddm.detections if d >= 5000)
    before = max([d for d in ddm.detections if d < after], default=-1)
    assert any(before < w < after for w in ddm.warnings)  # DDM warned since its last reset, before detecting


@pytest.mark.parametrize("seed", range(5))
def test_adwin_stays_quiet_on_a_stationary_stream(seed: int) -> None:
    rng = np.random.default_rng(seed)
    stream = (rng.uniform(size=10_000) < 0.2).astype(int)
    (adwin,) = detect_concept_drift(stream, detectors=["adwin"])
    assert adwin.detections == () and adwin.n == 10_000 and not adwin.drift_detected


def test_indexes_are_those_river_reports_when_fed_directly() -> None:
    stream = _shifted(11)
    for name, factory in (
        ("adwin", lambda: drift.ADWIN(delta=0.01)),
        ("ddm", lambda: binary.DDM()),
        ("page_hinkley", lambda: drift.PageHinkley(threshold=30)),
    ):
        detector, detections, warnings, warned = factory(), [], [], False
        for i, x in enumerate(stream.tolist()):
            detector.update(bool(x) if name == "ddm" else x)
            if name == "ddm":
                if detector.warning_detected and not warned:
                    warnings.append(i)
                warned = detector.warning_detected
            if detector.drift_detected:
                detections.append(i)
                warned = False
        params = {"adwin": {"delta": 0.01}, "page_hinkley": {"threshold": 30}}
        (ours,) = detect_concept_drift(stream, detectors=[name], params={name: params.get(name, {})})
        assert ours.detections == tuple(detections) and ours.warnings == tuple(warnings), name
        assert ours.params == params.get(name, {})


def test_real_valued_losses_skip_ddm_by_default_and_refuse_it_when_asked() -> None:
    rng = np.random.default_rng(3)
    losses = np.abs(np.r_[rng.normal(size=3000), 1.6 * rng.normal(size=3000)])
    results = detect_concept_drift(losses)
    assert [r.detector for r in results] == ["adwin", "page_hinkley"]
    assert 3000 <= results[0].detections[0] < 3300
    with pytest.raises(DataError, match="needs a 0/1 error stream"):
        detect_concept_drift(losses, detectors=["ddm"])


def test_results_serialise_and_bad_settings_say_what_to_fix() -> None:
    (result,) = detect_concept_drift(_shifted(0), detectors=["ddm"])
    assert isinstance(result, ConceptDriftResult)
    data = json.loads(json.dumps(result.to_dict()))
    assert data["detector"] == "ddm" and data["drift_detected"] is True
    assert data["implementation"] == "river.drift.binary.DDM" and data["detections"] == list(
        result.detections
    )
    with pytest.raises(ConfigError, match="Unknown concept-drift detector \\['kswin'\\]"):
        detect_concept_drift([0, 1], detectors=["kswin"])
    with pytest.raises(ConfigError, match="Bad parameters for the adwin detector"):
        detect_concept_drift([0, 1], detectors=["adwin"], params={"adwin": {"sensitivity": 3}})
    with pytest.raises(DataError, match="missing or infinite"):
        detect_concept_drift([0.0, float("nan")])

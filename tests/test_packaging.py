"""Packaging metadata: what setuptools reads from pyproject.toml, without deprecation warnings."""

from __future__ import annotations

import importlib.metadata
import tomllib
from pathlib import Path

from packaging.requirements import Requirement

PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"


def test_license_is_an_spdx_expression_and_the_build_requires_a_setuptools_that_reads_it() -> None:
    data = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))
    # A table ({text = ...}) is deprecated by setuptools; an SPDX string is read from setuptools 77 on.
    assert data["project"]["license"] == "Apache-2.0"
    setuptools = [
        Requirement(r) for r in data["build-system"]["requires"] if Requirement(r).name == "setuptools"
    ]
    assert len(setuptools) == 1
    assert not setuptools[0].specifier.contains("76.3.0") and setuptools[0].specifier.contains("77.0.0")
    # The installed distribution carries it as Metadata 2.4's License-Expression.
    assert importlib.metadata.metadata("modelward")["License-Expression"] == "Apache-2.0"

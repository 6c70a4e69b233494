"""One synthesis per test session (jsii is slow): every infra test reads its templates."""

from __future__ import annotations

import pytest

from tests.infra.synth import Replicated, Synthesised, synthesise, synthesise_replicated


@pytest.fixture(scope="session")
def synthesised(tmp_path_factory: pytest.TempPathFactory) -> Synthesised:
    return synthesise(tmp_path_factory.mktemp("cdk"))


@pytest.fixture(scope="session")
def replicated(tmp_path_factory: pytest.TempPathFactory) -> Replicated:
    return synthesise_replicated(tmp_path_factory.mktemp("cdk-regions"))

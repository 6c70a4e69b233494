"""One synthesis per test session (jsii is slow): every infra test reads its templates."""

from __future__ import annotations

import pytest

from tests.infra.synth import Synthesised, synthesise


@pytest.fixture(scope="session")
def synthesised(tmp_path_factory: pytest.TempPathFactory) -> Synthesised:
    return synthesise(tmp_path_factory.mktemp("cdk"))

"""A typed client: the OpenAPI document validates (openapi-spec-validator), openapi-typescript
turns it into types, and the example client's calls compile against them under `tsc --strict`;
a call that misreads the API does not."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from openapi_spec_validator import validate

from service.api.routes import ROUTES
from service.dev import clienttypes
from tests.support import node_tools

# npm's tools (openapi-typescript, tsc) run as child processes.
pytestmark = [pytest.mark.timeout(600), pytest.mark.subprocess]

SOURCES = ("api.js", "app.js", "example.ts", "tsconfig.json")

MISREAD = """
import type { components } from "./openapi";
import { Api } from "./api.js";

export async function misread(api: Api): Promise<string> {
  const page = await api.categoryListings("pet-care", { remote: "yes", limit: 10 });
  const first: components["schemas"]["Listing"] = page.items[0];
  return first.titel;
}
"""


@pytest.fixture(scope="module")
def client_dir() -> Path:
    return node_tools.find_or_install()


def _project(tmp_path: Path, client_dir: Path) -> Path:
    """The example's sources beside types generated from the document the service serves."""
    for name in SOURCES:
        shutil.copy(client_dir / name, tmp_path / name)
    spec = tmp_path / "openapi.json"
    spec.write_bytes(clienttypes.document())
    clienttypes.generate(spec, tmp_path / "openapi.d.ts", client_dir=client_dir)
    return tmp_path


def test_the_document_is_valid_openapi() -> None:
    document = json.loads(clienttypes.document())
    validate(document)  # raises on an invalid document
    assert document["openapi"] == "3.1.0"


def test_the_example_calls_compile_with_tsc_strict(tmp_path: Path, client_dir: Path) -> None:
    project = _project(tmp_path, client_dir)
    types = (project / "openapi.d.ts").read_text(encoding="utf-8")
    assert "export interface paths" in types
    for route in ROUTES:
        assert f'"{route.path}"' in types, route.path
    checked = clienttypes.typecheck(project, client_dir=client_dir)
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_a_call_that_misreads_the_api_does_not_compile(tmp_path: Path, client_dir: Path) -> None:
    project = _project(tmp_path, client_dir)
    (project / "misread.ts").write_text(MISREAD, encoding="utf-8")
    checked = clienttypes.typecheck(project, client_dir=client_dir)
    assert checked.returncode != 0
    errors = checked.stdout
    # `remote` is a boolean filter, and a listing has a title, no "titel".
    assert "misread.ts(6," in errors
    assert "'string' is not assignable to type 'boolean" in errors
    assert "misread.ts(8," in errors
    assert "titel" in errors
    assert errors.count("error TS") == 2, errors

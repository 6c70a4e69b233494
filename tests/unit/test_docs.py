"""The documentation held to the code: README.md as the front door, the generated references
in docs/ equal to what the code makes now, and every link, path, setting and name the prose
mentions still there."""

from __future__ import annotations

import importlib
import re
from pathlib import Path
from typing import Literal

import pytest
import yaml
from prometheus_client import CollectorRegistry
from pydantic import BaseModel, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from metrics.registry import Metrics
from service.api.routes import ROUTES
from service.config import Settings
from service.dev import docs

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
DOCS = ROOT / "docs"
PERFORMANCE = DOCS / "performance"
DATED = re.compile(r"\d{4}-\d{2}-\d{2}-[a-z0-9-]+\.md")
FENCE = re.compile(r"^```.*?^```", re.DOTALL | re.MULTILINE)


def _pages() -> list[Path]:
    return [README, *sorted(DOCS.rglob("*.md"))]


def _prose(page: Path) -> str:
    return page.read_text(encoding="utf-8")


def test_configuration_md_is_what_settings_generates() -> None:
    committed = (DOCS / "configuration.md").read_text(encoding="utf-8")
    assert committed == docs.configuration(), (
        f"docs/configuration.md differs from service.config.Settings: run {docs.REGENERATE}"
    )


def test_metrics_md_is_what_the_metric_definitions_generate() -> None:
    committed = (DOCS / "metrics.md").read_text(encoding="utf-8")
    assert committed == docs.metrics(), (
        f"docs/metrics.md differs from metrics.registry.Metrics: run {docs.REGENERATE}"
    )


class _Block(BaseModel):
    phase: Literal["one", "two"] = "one"
    dsn: SecretStr | None = Field(default=None, description="Where the old data lives.")


class _Sample(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="HUSTLEHUB_", env_nested_delimiter="__", frozen=True, extra="ignore"
    )

    port: int = Field(default=8080, ge=0, le=65535, description="Listen port.")
    token: SecretStr = SecretStr("never-print-me")
    block: _Block = _Block()


def test_a_nested_block_is_documented_under_the_names_the_environment_sets(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    top, block = docs.setting_blocks(_Sample)
    assert block.name == "block"
    rows = {s.variable: s for s in (*top.settings, *block.settings)}
    assert set(rows) == {
        "HUSTLEHUB_PORT",
        "HUSTLEHUB_TOKEN",
        "HUSTLEHUB_BLOCK__PHASE",
        "HUSTLEHUB_BLOCK__DSN",
    }
    assert rows["HUSTLEHUB_PORT"].type == "int, >= 0, <= 65535"
    assert rows["HUSTLEHUB_PORT"].description == "Listen port."
    assert rows["HUSTLEHUB_TOKEN"].default == docs.HIDDEN
    assert rows["HUSTLEHUB_TOKEN"].description == docs.NO_DESCRIPTION
    assert rows["HUSTLEHUB_BLOCK__PHASE"].type == "one of `one`, `two`"
    assert rows["HUSTLEHUB_BLOCK__DSN"].type == "secret str or unset"
    assert "never-print-me" not in docs.configuration(_Sample)

    # The names printed are the names pydantic-settings reads.
    monkeypatch.setenv("HUSTLEHUB_PORT", "9")
    monkeypatch.setenv("HUSTLEHUB_BLOCK__PHASE", "two")
    monkeypatch.setenv("HUSTLEHUB_BLOCK__DSN", "postgresql://x")
    read = _Sample()
    assert (read.port, read.block.phase) == (9, "two")
    assert read.block.dsn is not None


def test_no_secret_default_of_settings_is_printed() -> None:
    page = docs.configuration()
    secrets = [
        field.default.get_secret_value()
        for field in Settings.model_fields.values()
        if isinstance(field.default, SecretStr)
    ]
    assert secrets
    assert not [secret for secret in secrets if secret in page]


def test_every_metric_family_is_in_metrics_md() -> None:
    registry = CollectorRegistry()
    Metrics(registry)
    exposed = {
        family.name + ("_total" if family.type == "counter" else "")
        for family in registry.collect()
    }
    documented = set(re.findall(r"^\| `(hustlehub_\w+)`", docs.metrics(), re.MULTILINE))
    assert exposed == documented


def test_check_fails_on_stale_files_and_passes_once_written(tmp_path: Path) -> None:
    assert docs.main(["--check", "--docs", str(tmp_path)]) == 1
    assert docs.main(["--docs", str(tmp_path)]) == 0
    assert docs.main(["--check", "--docs", str(tmp_path)]) == 0
    (tmp_path / "metrics.md").write_text("edited by hand\n", encoding="utf-8")
    assert docs.main(["--check", "--docs", str(tmp_path)]) == 1


def test_readme_is_at_most_12_kb() -> None:
    size = len(README.read_bytes())
    assert size <= 12 * 1024, f"README.md is {size} bytes: move the depth into docs/"


def test_readme_says_what_it_is_first_then_the_two_commands() -> None:
    text = _prose(README)
    first_paragraph = text.split("\n\n")[1]
    for word in ("aiohttp", "Redis", "DynamoDB", "Cognito", "Prometheus", "Supabase"):
        assert word in first_paragraph
    headings = re.findall(r"^## (.+)$", FENCE.sub("", text), re.MULTILINE)
    assert headings == ["Two commands", "Try it", "Code map", "Routes", "Documentation"]
    commands = text.split("## Two commands", 1)[1].split("## Try it", 1)[0]
    assert "make run" in commands
    assert "make test" in commands


def _readme_block(heading: str) -> str:
    section = _prose(README).split(f"## {heading}\n", 1)[1].split("\n## ", 1)[0]
    match = FENCE.search(section)
    assert match is not None, f"no code block under {heading}"
    return match.group(0)


def test_the_code_map_names_every_package() -> None:
    packages = {
        f"{path.parent.relative_to(ROOT)}/" for path in (ROOT / "service").glob("*/__init__.py")
    }
    packages |= {"service/", "cache/", "metrics/", "loadtests/", "tests/", "deploy/", "docs/"}
    mapped = set(re.findall(r"^([\w/]+/)\s", _readme_block("Code map"), re.MULTILINE))
    assert mapped == packages


def test_the_readme_routes_are_the_route_table() -> None:
    listed = re.findall(r"^([A-Z]+)\s+(/\S*)", _readme_block("Routes"), re.MULTILINE)
    assert sorted(listed) == sorted((route.method, route.path) for route in ROUTES)


def _slug(heading: str) -> str:
    # GitHub's anchors: lower case, punctuation dropped, spaces as hyphens.
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def _anchors(page: Path) -> set[str]:
    found: set[str] = set()
    for heading in re.findall(r"^#+ (.+)$", FENCE.sub("", _prose(page)), re.MULTILINE):
        slug, n = _slug(heading), 1
        while slug in found:
            slug, n = f"{_slug(heading)}-{n}", n + 1
        found.add(slug)
    return found


def test_every_relative_link_resolves() -> None:
    broken = []
    for page in _pages():
        for target in re.findall(r"\]\(([^)\s]+)\)", FENCE.sub("", _prose(page))):
            if re.match(r"[a-z]+:", target):
                continue
            path, _, anchor = target.partition("#")
            resolved = (page.parent / path).resolve() if path else page
            if not resolved.exists():
                broken.append(f"{page.relative_to(ROOT)}: {target}")
            elif anchor and resolved.is_file() and anchor not in _anchors(resolved):
                broken.append(f"{page.relative_to(ROOT)}: {target} (no such heading)")
    assert not broken


def test_every_code_path_named_exists() -> None:
    pattern = re.compile(r"`((?:service|cache|metrics|loadtests|tests|deploy|docs)/[\w./*-]*)")
    missing = [
        f"{page.relative_to(ROOT)}: {path}"
        for page in _pages()
        for path in pattern.findall(_prose(page))
        if not any(ROOT.glob(path.rstrip("/")))
    ]
    assert not missing


def _resolves(dotted: str) -> bool:
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            target: object = importlib.import_module(".".join(parts[:cut]))
        except ModuleNotFoundError:
            continue
        for attribute in parts[cut:]:
            if not hasattr(target, attribute):
                return False
            target = getattr(target, attribute)
        return True
    return False


def test_every_dotted_name_named_exists() -> None:
    pattern = re.compile(r"`((?:service|cache|metrics|loadtests)\.[\w.]*\w)")
    missing = [
        f"{page.relative_to(ROOT)}: {name}"
        for page in _pages()
        for name in pattern.findall(_prose(page))
        # An ElastiCache node type (`cache.t4g.small`) is not our `cache` package.
        if not _resolves(name) and not re.fullmatch(r"cache\.[a-z]\d+\w*\.\w+", name)
    ]
    assert not missing


def test_every_setting_named_is_one_settings_reads() -> None:
    known = {s.variable for block in docs.setting_blocks(Settings) for s in block.settings}
    unknown = [
        f"{page.relative_to(ROOT)}: {name}"
        for page in _pages()
        for name in re.findall(r"\bHUSTLEHUB_[A-Z0-9_]*[A-Z0-9]\b", _prose(page))
        if name not in known
    ]
    assert not unknown


def _rule_names(kind: Literal["alert", "record"], filename: str) -> set[str]:
    rules = yaml.safe_load((ROOT / "metrics" / "rules" / filename).read_text(encoding="utf-8"))
    return {rule[kind] for group in rules["groups"] for rule in group["rules"]}


def test_every_alert_has_a_runbook_and_every_rule_is_described() -> None:
    operations = _prose(DOCS / "operations.md")
    monitoring = _prose(DOCS / "monitoring.md")
    alerts = _rule_names("alert", "alerts.yml")
    assert alerts
    assert not [a for a in alerts if f"\n### {a}\n" not in operations]
    assert not [a for a in alerts if f"`{a}`" not in monitoring]
    records = _rule_names("record", "recording.yml")
    assert not [r for r in records if f"| `{r}` |" not in monitoring]


def test_every_benchmark_run_is_a_dated_file_in_the_index() -> None:
    index = _prose(PERFORMANCE / "README.md")
    runs = [page for page in PERFORMANCE.glob("*.md") if page.name != "README.md"]
    assert runs
    assert not [page.name for page in runs if not DATED.fullmatch(page.name)]
    assert not [page.name for page in runs if f"]({page.name})" not in index]
    assert not [page.name for page in runs if not _prose(page).startswith(f"# {page.name[:10]}")]


MACHINE = re.compile(
    r"\b(?:this|today's|our)\s+(?:(?:\d+-core|shared|same|slow|fast)\s+)*"
    r"(?:machine|host|vm|box|laptop)\b",
    re.IGNORECASE,
)


def test_no_prose_about_the_machine_outside_a_dated_record() -> None:
    undated = [page for page in _pages() if not DATED.fullmatch(page.name)]
    found = [
        f"{page.relative_to(ROOT)}: {match.group(0)}"
        for page in undated
        for match in MACHINE.finditer(_prose(page))
    ]
    assert not found

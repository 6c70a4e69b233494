"""docker-compose.yml and the Dockerfile, validated without a Docker engine: Compose's own
`config` parses and checks the file; the rest reads what it printed."""

from __future__ import annotations

import re
import tomllib
from typing import Any

from tests.deploy.compose import command, depends_on, mounts, ports
from tests.deploy.conftest import ROOT, compose_config

DOCKERFILE = ROOT / "Dockerfile"


def test_compose_accepts_the_file_with_and_without_the_load_profile(
    compose: list[str], stack: dict[str, Any]
) -> None:
    plain = compose_config(compose)
    assert {"redis", "dynamodb", "init", "seed", "service", "prometheus", "grafana"} <= set(
        plain["services"]
    )
    assert "locust" in stack["services"]
    # Only locust waits for the profile; everything else comes up with `docker compose up`.
    profiled = {n for n, s in stack["services"].items() if s.get("profiles")}
    assert profiled == {"locust"}
    assert stack["services"]["locust"]["profiles"] == ["load"]


def test_the_images_are_the_real_dependencies(stack: dict[str, Any]) -> None:
    services = stack["services"]
    assert services["dynamodb"]["image"].startswith("amazon/dynamodb-local:")
    assert services["redis"]["image"].startswith("redis:")
    assert services["prometheus"]["image"].startswith("prom/prometheus:")
    assert services["grafana"]["image"].startswith("grafana/grafana")
    for name in ("init", "seed", "service"):
        assert services[name]["build"]["target"] == "runtime", name
    assert services["locust"]["build"]["target"] == "loadtest"
    # Pinned: `latest` changes under a stack nobody rebuilt on purpose.
    assert not [s["image"] for s in services.values() if s.get("image", "").endswith(":latest")]


def test_the_table_is_created_and_seeded_before_the_service_starts(
    stack: dict[str, Any],
) -> None:
    services = stack["services"]
    assert command(services["init"])[:1] == ["create-table"]
    assert "--wait" in command(services["init"])  # DynamoDB Local may not listen yet
    assert depends_on(services["init"]) == {"dynamodb": "service_started"}
    assert command(services["seed"]) == ["seed"]
    assert depends_on(services["seed"]) == {"init": "service_completed_successfully"}
    assert depends_on(services["service"]) == {
        "redis": "service_healthy",
        "seed": "service_completed_successfully",
        "cognito-init": "service_completed_successfully",
        "otel-collector": "service_started",
    }
    for name in ("init", "seed", "service"):
        env = services[name]["environment"]
        assert env["HUSTLEHUB_DYNAMODB_ENDPOINT"] == "http://dynamodb:8000", name
        assert env["HUSTLEHUB_REDIS_URL"] == "redis://redis:6379/0", name
    assert services["init"]["environment"] == services["service"]["environment"]


def test_the_service_runs_several_workers_and_publishes_on_loopback(
    stack: dict[str, Any],
) -> None:
    service = stack["services"]["service"]
    argv = command(service)
    assert argv[:2] == ["serve", "--workers"]
    assert int(argv[2]) >= 2
    assert [p.target for p in ports(service)] == [8080]
    assert service.get("read_only") is True
    for name, spec in stack["services"].items():
        for port in ports(spec):
            assert port.host_ip == "127.0.0.1", f"{name} publishes {port} beyond loopback"


def test_locust_loads_the_service_over_its_loopback(stack: dict[str, Any]) -> None:
    locust = stack["services"]["locust"]
    assert locust["network_mode"] == "service:service"
    argv = command(locust)
    assert argv[argv.index("-f") + 1] == "loadtests/locustfile.py"
    assert argv[argv.index("--host") + 1] == "http://127.0.0.1:8080"
    assert "--headless" in argv
    assert "--run-time" in argv
    assert argv[-1] == "Reader"  # the anonymous scenario
    assert depends_on(locust) == {"service": "service_healthy"}


def test_prometheus_and_grafana_mount_the_repos_files(stack: dict[str, Any]) -> None:
    prometheus = {m.target: m for m in mounts(stack["services"]["prometheus"])}
    assert prometheus["/etc/prometheus/prometheus.yml"].source == str(
        ROOT / "deploy/prometheus/prometheus.yml"
    )
    for rules in ("recording.yml", "alerts.yml"):
        assert prometheus[f"/etc/prometheus/rules/{rules}"].source == str(
            ROOT / "metrics/rules" / rules
        )
    grafana = {m.target: m for m in mounts(stack["services"]["grafana"])}
    assert grafana["/etc/grafana/provisioning"].source == str(ROOT / "deploy/grafana/provisioning")
    assert grafana["/var/lib/grafana/dashboards"].source == str(ROOT / "deploy/grafana/dashboards")
    for mount in [*prometheus.values(), *grafana.values()]:
        assert mount.read_only, mount
        assert (ROOT / mount.source).exists(), mount


def _stages(text: str) -> dict[str, list[str]]:
    """Dockerfile stage name -> its instructions (continuation lines joined)."""
    joined = re.sub(r"\\\n\s*", " ", text)
    stages: dict[str, list[str]] = {}
    current: list[str] = []
    for line in joined.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        found = re.match(r"FROM\s+(\S+)(?:\s+AS\s+(\S+))?", line, re.IGNORECASE)
        if found:
            current = [line]
            stages[found.group(2) or f"stage{len(stages)}"] = current
        elif stages:
            current.append(line)
    return stages


def _parent(stage: list[str]) -> str:
    return stage[0].split()[1]


def test_the_runtime_image_is_slim_unprivileged_and_checks_liveness() -> None:
    stages = _stages(DOCKERFILE.read_text(encoding="utf-8"))
    assert list(stages)[-1] == "runtime"  # `docker build .` builds the service image
    runtime = stages["runtime"]
    chain = ["runtime"]
    while _parent(stages[chain[-1]]) in stages:
        chain.append(_parent(stages[chain[-1]]))
    args = {k: v for k, v in re.findall(r"^ARG (\w+)=(\S+)", DOCKERFILE.read_text(), re.M)}
    root_image = _parent(stages[chain[-1]]).replace("${PYTHON_IMAGE}", args["PYTHON_IMAGE"])
    assert re.fullmatch(r"python:3\.1[1-9]-slim(-\w+)?", root_image), root_image

    users = [line.split()[1] for line in runtime if line.upper().startswith("USER ")]
    assert users
    assert users[-1] not in ("root", "0")
    (healthcheck,) = [line for line in runtime if line.upper().startswith("HEALTHCHECK")]
    # Liveness: a dependency's outage must not get the container replaced (docs/operations.md).
    assert "/healthz" in healthcheck
    for stage in stages.values():
        for line in stage:
            if line.upper().startswith("HEALTHCHECK"):
                assert "/readyz" not in line
    assert any(line.startswith("ENTRYPOINT") and "hustlehub" in line for line in runtime)


def test_the_runtime_image_installs_the_runtime_dependencies_only() -> None:
    stages = _stages(DOCKERFILE.read_text(encoding="utf-8"))
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    runtime_deps = " ".join(project["dependencies"]).lower()
    for extra in ("dev", "test", "migrate"):
        for requirement in project["optional-dependencies"][extra]:
            name = re.split(r"[\[<>=;! ]", requirement, maxsplit=1)[0].lower()
            if name != "hustlehub-directory":
                assert name not in runtime_deps, f"{name} of [{extra}] is a runtime dependency"
    # What the runtime stage and its ancestors install: the project's wheel, no extras.
    chain, name = [], "runtime"
    while name in stages:
        chain.append(name)
        name = _parent(stages[name])
    installs = [line for n in chain for line in stages[n] if "pip " in line]
    assert installs, "no pip install found"
    for line in installs:
        for banned in ("[", "moto", "locust", "-r ", "requirements"):
            assert banned not in line, line
    copied = " ".join(line for n in chain for line in stages[n] if line.startswith("COPY"))
    assert "tests" not in copied
    assert "loadtests" not in copied


def test_the_migration_image_is_the_runtime_plus_asyncpg() -> None:
    stages = _stages(DOCKERFILE.read_text(encoding="utf-8"))
    runtime, migration = stages["runtime"], stages["migration"]
    assert _parent(migration) == _parent(runtime) == "base"
    installs = [line for line in migration if "pip " in line]
    (install,) = installs
    assert "asyncpg" in install
    # Everything else the service image says, the migration image says too.
    assert runtime[1:] == [line for line in migration[1:] if "pip " not in line]

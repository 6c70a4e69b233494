"""Reading `docker compose config` output the same way whichever Compose printed it
(docker-compose 1.29 prints short strings, Compose v2 long mappings)."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True, slots=True)
class Port:
    host_ip: str
    published: int
    target: int


@dataclass(frozen=True, slots=True)
class Mount:
    source: str
    target: str
    read_only: bool


def ports(service: dict[str, Any]) -> list[Port]:
    found = []
    for entry in service.get("ports", []):
        if isinstance(entry, dict):
            found.append(
                Port(str(entry.get("host_ip", "")), int(entry["published"]), int(entry["target"]))
            )
            continue
        spec = str(entry).split("/", 1)[0]
        parts = spec.split(":")
        host_ip = parts[0] if len(parts) == 3 else ""
        found.append(Port(host_ip, int(parts[-2]), int(parts[-1])))
    return found


def mounts(service: dict[str, Any]) -> list[Mount]:
    found = []
    for entry in service.get("volumes", []):
        if isinstance(entry, dict):
            found.append(
                Mount(str(entry["source"]), str(entry["target"]), bool(entry.get("read_only")))
            )
            continue
        parts = str(entry).split(":")
        found.append(Mount(parts[0], parts[1], len(parts) > 2 and "ro" in parts[2].split(",")))
    return found


def depends_on(service: dict[str, Any]) -> dict[str, str]:
    raw = service.get("depends_on", {})
    if isinstance(raw, list):
        return dict.fromkeys(raw, "service_started")
    return {name: str(spec.get("condition", "service_started")) for name, spec in raw.items()}


def command(service: dict[str, Any]) -> list[str]:
    raw = service.get("command", [])
    return [str(part) for part in raw] if isinstance(raw, list) else str(raw).split()


def lay_out(service: dict[str, Any], root: Path) -> None:
    """Lay the service's bind mounts out under `root` as the container would see them."""
    for mount in mounts(service):
        target = root / mount.target.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        if Path(mount.source).is_dir():
            shutil.copytree(mount.source, target)
        else:
            shutil.copyfile(mount.source, target)


def flags(service: dict[str, Any]) -> dict[str, str]:
    """The command's `--name=value` options."""
    return dict(arg.split("=", 1) for arg in command(service) if "=" in arg)

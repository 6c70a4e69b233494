"""moto's server mode as a child process: the DynamoDB and Cognito stand-in for dev and tests.

It speaks the real AWS wire protocol over HTTP on loopback, so the code under test goes through
aiobotocore exactly as it would against AWS or DynamoDB Local.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Iterator
from pathlib import Path


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/moto-api/", timeout=0.5):  # noqa: S310 - loopback
            return True
    except (urllib.error.URLError, OSError):
        return False


@contextlib.contextmanager
def moto_server(
    *, host: str = "127.0.0.1", port: int | None = None, log: Path | None = None
) -> Iterator[str]:
    """Start moto's server (`service.dev.motoserver`) on loopback, yield its endpoint URL, stop it
    on exit."""
    port = port or free_port(host)
    url = f"http://{host}:{port}"
    out = log.open("ab") if log else None
    proc = subprocess.Popen(
        [sys.executable, "-m", "service.dev.motoserver", "-H", host, "-p", str(port)],
        stdout=out or subprocess.DEVNULL,
        stderr=out or subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while not _answers(url):
            if proc.poll() is not None:
                raise RuntimeError(f"moto server exited with code {proc.returncode}")
            if time.monotonic() > deadline:
                raise RuntimeError("moto server did not answer within 30 s")
            time.sleep(0.1)
        yield url
    finally:
        # moto stops promptly on SIGINT; SIGTERM can leave it draining for seconds.
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=10)
        except Exception:  # noqa: BLE001 - a wedged child must not keep the parent alive
            proc.kill()
            proc.wait(timeout=5)
        if out:
            out.close()


@contextlib.asynccontextmanager
async def moto_server_async(
    *, host: str = "127.0.0.1", port: int | None = None
) -> AsyncIterator[str]:
    cm = moto_server(host=host, port=port)
    url = await asyncio.to_thread(cm.__enter__)
    try:
        yield url
    finally:
        await asyncio.to_thread(cm.__exit__, None, None, None)

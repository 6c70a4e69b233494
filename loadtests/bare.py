"""The ceiling: aiohttp on uvloop answering one constant body, nothing else.

    python -m loadtests.bare --port 8090 --size 2048
    python -m loadtests.bare --port 8090 --body-file page.br --content-encoding br
Any path answers the body: sized like the service's response it stands in for, or the very
bytes the service sent (a compressed body, with its Content-Encoding).
"""

from __future__ import annotations

import argparse
import socket
from pathlib import Path

import uvloop
from aiohttp import web


def constant_body(size: int) -> bytes:
    """A JSON body of `size` bytes."""
    return b'{"x":"' + b"a" * max(size - 8, 0) + b'"}'


def constant_headers(content_encoding: str = "") -> dict[str, str]:
    """What every constant answer says beside its Content-Type (also loadtests.bare_fastapi)."""
    headers = {"Cache-Control": "public, max-age=5", "ETag": '"bare"'}
    if content_encoding:
        headers["Content-Encoding"] = content_encoding
        headers["Vary"] = "Accept-Encoding"
    return headers


def arguments(prog: str) -> tuple[int, bytes, str]:
    """A constant server's command line: its port, the body it answers and its coding."""
    parser = argparse.ArgumentParser(prog=prog)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--size", type=int, default=2048)
    parser.add_argument("--body-file", type=Path, help="answer these bytes (instead of --size)")
    parser.add_argument("--content-encoding", default="", help="their Content-Encoding, if any")
    args = parser.parse_args()
    body = args.body_file.read_bytes() if args.body_file else constant_body(args.size)
    return args.port, body, args.content_encoding


def create_app(
    size: int, *, body: bytes | None = None, content_encoding: str = ""
) -> web.Application:
    if body is None:
        body = constant_body(size)
    headers = constant_headers(content_encoding)

    async def constant(_: web.Request) -> web.Response:
        return web.Response(body=body, content_type="application/json", headers=headers)

    app = web.Application()
    app.router.add_get("/{tail:.*}", constant)
    return app


def main() -> None:
    port, body, content_encoding = arguments("loadtests.bare")
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    app = create_app(len(body), body=body, content_encoding=content_encoding)
    web.run_app(app, sock=sock, access_log=None, print=None, loop=uvloop.new_event_loop())


if __name__ == "__main__":
    main()

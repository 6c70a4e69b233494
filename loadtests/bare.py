"""The ceiling: aiohttp on uvloop answering one constant body, nothing else.

    python -m loadtests.bare --port 8090 --size 2048
Any path answers the body, sized like the service's response it stands in for.
"""

from __future__ import annotations

import argparse
import socket

import uvloop
from aiohttp import web


def create_app(size: int) -> web.Application:
    body = b'{"x":"' + b"a" * max(size - 8, 0) + b'"}'
    headers = {"Cache-Control": "public, max-age=5", "ETag": '"bare"'}

    async def constant(_: web.Request) -> web.Response:
        return web.Response(body=body, content_type="application/json", headers=headers)

    app = web.Application()
    app.router.add_get("/{tail:.*}", constant)
    return app


def main() -> None:
    parser = argparse.ArgumentParser(prog="loadtests.bare")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--size", type=int, default=2048)
    args = parser.parse_args()
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", args.port))
    web.run_app(
        create_app(args.size), sock=sock, access_log=None, print=None, loop=uvloop.new_event_loop()
    )


if __name__ == "__main__":
    main()

"""What a team would pick instead: FastAPI on uvicorn answering one constant body.

    python -m loadtests.bare_fastapi --port 8091 --size 2048
uvicorn with its fast parts (uvloop, httptools), no access log, one process: the same body and
headers as `loadtests.bare`, so `make benchmark` can say where the service stands against the
usual choice as well as against aiohttp itself.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import uvicorn
from fastapi import FastAPI, Response

from loadtests.bare import constant_body


def create_app(body: bytes, *, content_encoding: str = "") -> FastAPI:
    headers = {"Cache-Control": "public, max-age=5", "ETag": '"bare"'}
    if content_encoding:
        headers["Content-Encoding"] = content_encoding
        headers["Vary"] = "Accept-Encoding"
    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)

    @app.get("/{tail:path}")
    async def constant(tail: str) -> Response:
        return Response(content=body, media_type="application/json", headers=headers)

    return app


def main() -> None:
    parser = argparse.ArgumentParser(prog="loadtests.bare_fastapi")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--size", type=int, default=2048)
    parser.add_argument("--body-file", type=Path, help="answer these bytes (instead of --size)")
    parser.add_argument("--content-encoding", default="", help="their Content-Encoding, if any")
    args = parser.parse_args()
    body = args.body_file.read_bytes() if args.body_file else constant_body(args.size)
    app = create_app(body, content_encoding=args.content_encoding)
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=args.port,
        loop="uvloop",
        http="httptools",
        access_log=False,
        log_level="warning",
        server_header=False,
    )


if __name__ == "__main__":
    main()

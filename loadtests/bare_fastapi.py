"""What a team would pick instead: FastAPI on uvicorn answering one constant body.

    python -m loadtests.bare_fastapi --port 8091 --size 2048
uvicorn with its fast parts (uvloop, httptools), no access log, one process: the same body and
headers as `loadtests.bare`, so `make benchmark` can say where the service stands against the
usual choice as well as against aiohttp itself.
"""

from __future__ import annotations

import uvicorn
from fastapi import FastAPI, Response

from loadtests.bare import arguments, constant_headers


def create_app(body: bytes, *, content_encoding: str = "") -> FastAPI:
    headers = constant_headers(content_encoding)
    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)

    @app.get("/{tail:path}")
    async def constant(tail: str) -> Response:
        return Response(content=body, media_type="application/json", headers=headers)

    return app


def main() -> None:
    port, body, content_encoding = arguments("loadtests.bare_fastapi")
    uvicorn.run(
        create_app(body, content_encoding=content_encoding),
        host="127.0.0.1",
        port=port,
        loop="uvloop",
        http="httptools",
        access_log=False,
        log_level="warning",
        server_header=False,
    )


if __name__ == "__main__":
    main()

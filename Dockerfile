# Two images from one file:
#   runtime (the default, the last stage): `hustlehub serve`, the project's runtime
#     dependencies only (no dev, test or migrate extras: no moto), as an unprivileged user;
#   loadtest: the same plus locust and loadtests/ (docker compose's `load` profile);
#   migration: the runtime plus asyncpg, for the Supabase migration's dual-write and dual-read
#     phases (README: Migration phases); `docker build --target migration .`.
# Production settings come from HUSTLEHUB_* variables (README: Configuration).
ARG PYTHON_IMAGE=python:3.11-slim

FROM ${PYTHON_IMAGE} AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY service ./service
COPY cache ./cache
COPY metrics ./metrics
# The project's own wheel; its dependencies are installed from their wheels in `base`.
RUN pip wheel --no-cache-dir --no-deps --wheel-dir /wheels .

FROM ${PYTHON_IMAGE} AS base
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    HUSTLEHUB_HOST=0.0.0.0 \
    HUSTLEHUB_PORT=8080
COPY --from=build /wheels /wheels
RUN pip install /wheels/*.whl && rm -rf /wheels \
    && useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin hustlehub
WORKDIR /app

FROM base AS loadtest
RUN pip install "locust>=2.30"
COPY loadtests ./loadtests
ENV PYTHONPATH=/app
USER hustlehub
ENTRYPOINT ["locust"]

FROM base AS migration
RUN pip install "asyncpg>=0.29" "opentelemetry-instrumentation-asyncpg>=0.48b0"
USER hustlehub
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --start-period=15s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('HUSTLEHUB_PORT', '8080') + '/healthz', timeout=2)"]
ENTRYPOINT ["hustlehub"]
CMD ["serve", "--workers", "2"]

FROM base AS runtime
USER hustlehub
EXPOSE 8080
# Liveness (/healthz), never readiness: a container marked unhealthy during a Redis or DynamoDB
# outage would be replaced, losing the in-process copies stale-if-error serves from.
HEALTHCHECK --interval=10s --timeout=3s --start-period=15s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('HUSTLEHUB_PORT', '8080') + '/healthz', timeout=2)"]
ENTRYPOINT ["hustlehub"]
CMD ["serve", "--workers", "2"]

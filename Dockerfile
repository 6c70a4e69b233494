# The service image: production settings come from HUSTLEHUB_* variables.
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY service ./service
COPY cache ./cache
COPY metrics ./metrics
COPY loadtests ./loadtests
RUN pip install --no-cache-dir .
USER nobody
EXPOSE 8080
ENTRYPOINT ["hustlehub"]
CMD ["serve", "--workers", "2"]

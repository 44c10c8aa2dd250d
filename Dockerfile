# modelward's container image: `modelward serve` (the maintenance loop inside) on port 8000.
# Build: docker build -t modelward .   Run: see compose.yaml and docs/operations.md.
# Two stages: the first installs modelward and its dependencies, pinned by requirements/constraints.txt,
# into a virtual environment; the second copies only that environment onto a slim base and runs as a
# non-root user. The workspace (modelward.yaml, training code, .modelward/ artifacts) is a volume at
# /srv/modelward/workspace; the database is PostgreSQL (MODELWARD_DATABASE_URL).

FROM python:3.11-slim-bookworm AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /build
COPY requirements/constraints.txt requirements/constraints.txt
COPY pyproject.toml README.md ./
COPY src ./src
RUN python -m venv /opt/modelward \
    && /opt/modelward/bin/pip install -c requirements/constraints.txt .

FROM python:3.11-slim-bookworm
RUN groupadd --system --gid 10001 modelward \
    && useradd --system --uid 10001 --gid modelward --home-dir /srv/modelward --create-home modelward \
    && mkdir -p /srv/modelward/workspace \
    && chown modelward:modelward /srv/modelward/workspace
COPY --from=build /opt/modelward /opt/modelward
ENV PATH=/opt/modelward/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    MODELWARD_SERVE__HOST=0.0.0.0 \
    MODELWARD_SERVE__PORT=8000
WORKDIR /srv/modelward/workspace
USER 10001:10001
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request as u; u.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('MODELWARD_SERVE__PORT', '8000'), timeout=4)"]
ENTRYPOINT ["modelward"]
CMD ["serve"]

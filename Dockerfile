# One image for every crypto-assets service: Dagster webserver/daemon, run workers, collector,
# dashboard, HTTP API (docker-compose.yml picks the command). Two stages: uv builds the locked
# environment in the first; the second holds that environment and the sources, runs as a user
# without privileges and has no build tools.
FROM python:3.11-slim-bookworm AS build
ENV UV_COMPILE_BYTECODE=1 UV_LINK_MODE=copy UV_PYTHON_DOWNLOADS=never
RUN pip install --no-cache-dir uv==0.13.9
WORKDIR /app
# The dependencies first: this layer is rebuilt only when the lock changes.
COPY pyproject.toml uv.lock README.md ./
RUN uv sync --frozen --no-dev --no-install-project
COPY crypto_assets ./crypto_assets
COPY dashboards ./dashboards
RUN uv sync --frozen --no-dev

FROM python:3.11-slim-bookworm
ENV PYTHONUNBUFFERED=1 DAGSTER_HOME=/opt/dagster/home CRYPTO_CONFIG=/app/crypto.yaml \
    PATH="/app/.venv/bin:$PATH"
RUN groupadd --system --gid 10001 crypto \
    && useradd --system --uid 10001 --gid crypto --create-home --home-dir /home/crypto \
        --shell /usr/sbin/nologin crypto
WORKDIR /app
# The environment, the package (installed from /app, so `streamlit run dashboards/app.py` and
# workspace.yaml resolve from here) and the configuration; owned by root, read-only to the user.
COPY --from=build /app /app
COPY dagster.yaml workspace.yaml crypto.yaml ./
COPY dagster.yaml $DAGSTER_HOME/dagster.yaml
# Dagster writes its local artefacts (compute logs, schedules' state) under DAGSTER_HOME.
RUN chown crypto:crypto "$DAGSTER_HOME"
USER 10001:10001
EXPOSE 3000 8501 8000
CMD ["dagster-webserver", "-h", "0.0.0.0", "-p", "3000", "-w", "/app/workspace.yaml"]

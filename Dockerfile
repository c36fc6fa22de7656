# One image for every crypto-assets service: Dagster webserver/daemon, run workers, collector, dashboard.
FROM python:3.11-slim
ENV PYTHONUNBUFFERED=1 UV_COMPILE_BYTECODE=1 UV_LINK_MODE=copy DAGSTER_HOME=/opt/dagster/home
RUN pip install --no-cache-dir uv
WORKDIR /app
COPY pyproject.toml uv.lock README.md ./
RUN uv sync --frozen --no-dev --no-install-project
COPY crypto_assets ./crypto_assets
COPY dashboards ./dashboards
COPY dagster.yaml workspace.yaml crypto.yaml ./
RUN uv sync --frozen --no-dev && mkdir -p $DAGSTER_HOME && cp dagster.yaml $DAGSTER_HOME/dagster.yaml
ENV PATH="/app/.venv/bin:$PATH" CRYPTO_CONFIG=/app/crypto.yaml

# crypto-assets: the commands a newcomer needs. Everything runs through uv (installed if missing).
UV ?= $(shell command -v uv 2>/dev/null || echo "$(HOME)/.local/bin/uv")
PYTEST_ARGS ?=

.PHONY: up demo test test-plain lint compose-config bench sync

$(UV):
	python3 -m pip install --user --quiet uv || python3 -m pip install --user --quiet --break-system-packages uv

sync: $(UV)
	@$(UV) sync --frozen --quiet

## Start the platform (local PostgreSQL unless DATABASE_URL is set; Dagster UI on :3000).
up: sync
	@CRYPTO_CONFIG=$${CRYPTO_CONFIG:-crypto.yaml} $(UV) run --frozen crypto up

## Same stack against the bundled Binance simulator (no internet needed).
demo: sync
	@CRYPTO_CONFIG=$${CRYPTO_CONFIG:-crypto.yaml} $(UV) run --frozen crypto up --demo

## Lint and types, then the files no Python test exercises: the workflows (actionlint), the
## dev container (its vendored schema), the Dockerfiles (hadolint), the compose file (docker-compose
## 1.29's own `config`, run from the registry: no Docker engine needed). About 5 s warm,
## 20-40 s from a fresh clone (mypy's cache empty; docker-compose's PyYAML is built once).
COMPOSE_CONFIG ?= $(UV) tool run --quiet --build-constraint .ci/compose-build-constraints.txt \
	--with 'PyYAML==5.4.1' docker-compose==1.29.2
lint: sync
	$(UV) run --frozen ruff check .
	$(UV) run --frozen ruff format --check .
	$(UV) run --frozen mypy
	$(UV) run --frozen actionlint
	$(UV) run --frozen check-jsonschema --schemafile .devcontainer/devcontainer.schema.json .devcontainer/devcontainer.json
	$(UV) run --frozen check-jsonschema --builtin-schema vendor.github-workflows .github/workflows/*.yml
	$(UV) run --frozen hadolint Dockerfile .devcontainer/Dockerfile
	@$(MAKE) --no-print-directory compose-config

compose-config: $(UV)
	$(COMPOSE_CONFIG) -f docker-compose.yml config --quiet

## The whole test suite (TimescaleDB when installed; CRYPTO_TEST_TIMESCALEDB=1 requires it).
test: sync
	$(UV) run --frozen pytest $(PYTEST_ARGS)

## The tests whose SQL meets the schema, again on plain PostgreSQL (no TimescaleDB): the
## warehouse, the assets' writes and checks, the aggregates, the API's and dashboard's queries,
## audit and clear. (The process-level tests - daemon, webserver, stream, faults - do not
## depend on the server's extensions and run once, in `make test`.)
PLAIN_TESTS ?= crypto_assets_tests/warehouse crypto_assets_tests/aggregates/test_rollups.py \
	crypto_assets_tests/aggregates/test_metrics.py crypto_assets_tests/aggregates/test_downsampled.py \
	crypto_assets_tests/assets/test_candles_15m.py crypto_assets_tests/assets/test_archive_source.py \
	crypto_assets_tests/api crypto_assets_tests/dashboards/test_queries.py \
	crypto_assets_tests/commands/test_audit.py crypto_assets_tests/commands/test_clear.py \
	crypto_assets_tests/stream/test_candles_1m_asset.py
test-plain: sync
	CRYPTO_TEST_TIMESCALEDB=0 $(UV) run --frozen pytest $(PLAIN_TESTS) $(PYTEST_ARGS)

## List the benchmarks and their commands (figures in BENCHMARKS.md).
bench: sync
	$(UV) run --frozen python -m bench

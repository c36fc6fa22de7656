# crypto-assets: the commands a newcomer needs. Everything runs through uv (installed if missing).
UV ?= $(shell command -v uv 2>/dev/null || echo "$(HOME)/.local/bin/uv")
PYTEST_ARGS ?=

.PHONY: up demo test test-plain bench sync

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

## The whole test suite (TimescaleDB when installed; CRYPTO_TEST_TIMESCALEDB=1 requires it).
test: sync
	$(UV) run --frozen pytest $(PYTEST_ARGS)

## The suite again on plain PostgreSQL (no TimescaleDB).
test-plain: sync
	CRYPTO_TEST_TIMESCALEDB=0 $(UV) run --frozen pytest $(PYTEST_ARGS)

## Benchmarks (figures go to BENCHMARKS.md by hand).
bench: sync
	$(UV) run --frozen python -m bench

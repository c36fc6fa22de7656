"""Load the real 1m recording into candles_1m and materialize aggregate partitions against a real database."""

import json
from datetime import date
from pathlib import Path

import dagster as dg
import psycopg2

from crypto_assets.assets.aggregates import build_aggregates
from crypto_assets.assets.partitions import day_symbol_partitions
from crypto_assets.binance.wire import parse_kline_row
from crypto_assets.resources import WarehouseResource
from crypto_assets.settings import Settings
from crypto_assets.warehouse.candles import CANDLE_COLUMNS, copy_lines, kline_lines

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
RECORDING_1M = FIXTURES / "BTCUSDT_1m_klines_2024-09-04.json"
SETTINGS = Settings(symbols=("BTCUSDT", "ETHUSDT"), history_start=date(2024, 9, 1))


def recorded_rows() -> list[list]:
    """The 1000 real BTCUSDT 1m klines of 2024-09-04 (02:27 to 19:06 UTC), as Binance sent them."""
    return json.loads(RECORDING_1M.read_text())


def load_candles(db_url: str, table: str, rows: list[list], symbol: str = "BTCUSDT") -> None:
    """COPY REST-shaped kline rows into a candle table (candles_1m rows are closed, from REST)."""
    extra = {"is_closed": "t", "source": "rest"} if table == "candles_1m" else {}
    suffix = "".join(f"\t{v}" for v in extra.values())
    with psycopg2.connect(db_url) as conn, conn.cursor() as cur:
        copy_lines(
            cur,
            table,
            (*CANDLE_COLUMNS, *extra),
            kline_lines(symbol, [parse_kline_row(r) for r in rows], suffix),
        )
    conn.close()


def materialize(
    db_url: str,
    asset_names: list[str],
    partition_key: str,
    settings: Settings = SETTINGS,
    instance=None,
):
    """Materialize the named assets' partition in one run; raises on failure."""
    built = {
        a.key.to_user_string(): a
        for a in build_aggregates(day_symbol_partitions(settings), settings).assets
    }
    assets = [built[name] for name in asset_names]
    return dg.materialize(
        assets,
        partition_key=partition_key,
        resources={"warehouse": WarehouseResource(database_url=db_url)},
        instance=instance or dg.DagsterInstance.ephemeral(),
    )


def fetch(db_url: str, query: str, params=()) -> list[tuple]:
    with psycopg2.connect(db_url) as conn, conn.cursor() as cur:
        cur.execute(query, params)
        rows = cur.fetchall()
    conn.close()
    return rows

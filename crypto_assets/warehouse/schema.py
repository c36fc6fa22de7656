"""The warehouse schema: every table of DESIGN.md, created and migrated idempotently.

``migrate(conn)`` is safe to call on every start, from several processes at once: it takes an
advisory lock, applies only the migrations not yet recorded in ``schema_migrations``, and turns
the time-series tables into hypertables when the server has TimescaleDB.
Prices and quantities are ``numeric`` (exact); derived ratios in ``market_metrics_daily`` are
``double precision``.
"""

from __future__ import annotations

from dataclasses import dataclass

from psycopg2.extensions import connection

from crypto_assets.warehouse.db import scalar

_CANDLE_COLUMNS = """
    symbol                  text        NOT NULL,
    open_time               timestamptz NOT NULL,
    close_time              timestamptz NOT NULL,
    open                    numeric     NOT NULL,
    high                    numeric     NOT NULL,
    low                     numeric     NOT NULL,
    close                   numeric     NOT NULL,
    volume                  numeric     NOT NULL,
    quote_volume            numeric     NOT NULL,
    trade_count             bigint      NOT NULL,
    taker_buy_base_volume   numeric     NOT NULL,
    taker_buy_quote_volume  numeric     NOT NULL"""

# Ordered migrations: (version, SQL). Never edit an applied one; append a new one instead.
MIGRATIONS: list[tuple[int, str]] = [
    (
        1,
        f"""
        CREATE TABLE IF NOT EXISTS candles_15m ({_CANDLE_COLUMNS},
            PRIMARY KEY (symbol, open_time)
        );
        CREATE TABLE IF NOT EXISTS candles_1m ({_CANDLE_COLUMNS},
            is_closed boolean NOT NULL DEFAULT true,
            source    text    NOT NULL CHECK (source IN ('stream', 'rest')),
            PRIMARY KEY (symbol, open_time)
        );
        CREATE TABLE IF NOT EXISTS price_samples (
            symbol     text        NOT NULL,
            sampled_at timestamptz NOT NULL,
            price      numeric     NOT NULL,
            PRIMARY KEY (symbol, sampled_at)
        );
        CREATE TABLE IF NOT EXISTS price_downsampled (
            symbol       text        NOT NULL,
            bucket_start timestamptz NOT NULL,
            bucket_width interval    NOT NULL,
            avg_price    numeric     NOT NULL,
            median_price numeric     NOT NULL,
            min_price    numeric     NOT NULL,
            max_price    numeric     NOT NULL,
            sample_count integer     NOT NULL,
            PRIMARY KEY (symbol, bucket_width, bucket_start)
        );
        CREATE TABLE IF NOT EXISTS candles_1h ({_CANDLE_COLUMNS},
            vwap           numeric,
            source_candles integer NOT NULL,
            is_complete    boolean NOT NULL,
            PRIMARY KEY (symbol, open_time)
        );
        CREATE TABLE IF NOT EXISTS candles_1d ({_CANDLE_COLUMNS},
            vwap           numeric,
            source_candles integer NOT NULL,
            is_complete    boolean NOT NULL,
            PRIMARY KEY (symbol, open_time)
        );
        CREATE TABLE IF NOT EXISTS market_metrics_daily (
            symbol                          text    NOT NULL,
            day                             date    NOT NULL,
            open                            numeric,
            close                           numeric,
            previous_close                  numeric,
            simple_return                   double precision,
            log_return                      double precision,
            realized_volatility             double precision,
            realized_volatility_annualized  double precision,
            range_pct                       double precision,
            volume                          numeric,
            quote_volume                    numeric,
            trade_count                     bigint,
            minutes_observed                integer,
            PRIMARY KEY (symbol, day)
        );
        CREATE TABLE IF NOT EXISTS stream_heartbeats (
            connection_id     text        PRIMARY KEY,
            streams           integer     NOT NULL,
            connected_at      timestamptz,
            last_message_at   timestamptz,
            reconnect_count   integer     NOT NULL DEFAULT 0,
            malformed_count   bigint      NOT NULL DEFAULT 0,
            updated_at        timestamptz NOT NULL DEFAULT now()
        );
        """,
    ),
    (
        2,
        # Rollups say which finer candles built each bucket: '1m', '15m' (1m absent), or 'mixed'.
        """
        ALTER TABLE candles_1h ADD COLUMN IF NOT EXISTS source_interval text NOT NULL DEFAULT '1m'
            CHECK (source_interval IN ('1m', '15m', 'mixed'));
        ALTER TABLE candles_1d ADD COLUMN IF NOT EXISTS source_interval text NOT NULL DEFAULT '1m'
            CHECK (source_interval IN ('1m', '15m', 'mixed'));
        """,
    ),
    (
        3,
        # The collector's heartbeat says what it dropped, by reason, and which configured symbols
        # it does not stream, and why ({"ETHUSDT": "BREAK"}).
        """
        ALTER TABLE stream_heartbeats ADD COLUMN IF NOT EXISTS dropped jsonb NOT NULL DEFAULT '{}',
            ADD COLUMN IF NOT EXISTS not_streaming jsonb NOT NULL DEFAULT '{}';
        """,
    ),
    (
        4,
        # Catch-up bookkeeping: failed partitions waiting for their next retry, and the days
        # ``crypto clear --before`` removed on purpose (the sensors do not refill below them).
        """
        CREATE TABLE IF NOT EXISTS partition_retries (
            asset           text        NOT NULL,
            symbol          text        NOT NULL,
            day             date        NOT NULL,
            attempts        integer     NOT NULL,
            next_attempt_at timestamptz NOT NULL,
            updated_at      timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (asset, symbol, day)
        );
        CREATE TABLE IF NOT EXISTS cleared_floors (
            table_name     text        NOT NULL,
            symbol         text        NOT NULL,  -- '*' for every symbol
            cleared_before date        NOT NULL,
            cleared_at     timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (table_name, symbol)
        );
        """,
    ),
]

# Hypertables (table, time column, chunk interval) when TimescaleDB is present.
HYPERTABLES: list[tuple[str, str, str]] = [
    ("candles_15m", "open_time", "30 days"),
    ("candles_1m", "open_time", "7 days"),
    ("price_samples", "sampled_at", "1 day"),
    ("price_downsampled", "bucket_start", "7 days"),
    ("candles_1h", "open_time", "90 days"),
    ("candles_1d", "open_time", "365 days"),
]

_LOCK_KEY = 7_391_002  # advisory lock shared by every process that migrates


@dataclass(frozen=True)
class SchemaState:
    """What ``migrate`` found and did."""

    timescaledb: bool
    applied: list[int]


def timescaledb_loadable(conn: connection) -> bool:
    """True when the server has TimescaleDB installed and preloaded (so hypertables work)."""
    with conn.cursor() as cur:
        cur.execute("SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb'")
        if cur.fetchone() is None:
            return False
        cur.execute("SELECT current_setting('shared_preload_libraries')")
        return "timescaledb" in scalar(cur)


def has_timescaledb(conn: connection) -> bool:
    """True when the TimescaleDB extension is created in this database."""
    with conn.cursor() as cur:
        cur.execute("SELECT 1 FROM pg_extension WHERE extname = 'timescaledb'")
        return cur.fetchone() is not None


def migrate(conn: connection) -> SchemaState:
    """Create or upgrade every table; idempotent and safe under concurrency."""
    conn.autocommit = False
    with conn.cursor() as cur:
        cur.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_KEY,))
        use_timescale = timescaledb_loadable(conn)
        if use_timescale:
            cur.execute("SET LOCAL client_min_messages = warning")
            cur.execute("CREATE EXTENSION IF NOT EXISTS timescaledb")
        cur.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            " version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
        )
        cur.execute("SELECT version FROM schema_migrations")
        done = {row[0] for row in cur.fetchall()}
        applied = []
        for version, sql in MIGRATIONS:
            if version in done:
                continue
            cur.execute(sql)
            cur.execute("INSERT INTO schema_migrations (version) VALUES (%s)", (version,))
            applied.append(version)
        if use_timescale:
            for table, column, chunk in HYPERTABLES:
                cur.execute(
                    "SELECT create_hypertable(%s, by_range(%s, %s::interval),"
                    " if_not_exists => true, migrate_data => true)",
                    (table, column, chunk),
                )
    conn.commit()
    return SchemaState(timescaledb=use_timescale, applied=applied)

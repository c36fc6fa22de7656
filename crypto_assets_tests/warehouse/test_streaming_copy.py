"""``StreamingCopy`` when the connection is lost under it, on a real PostgreSQL: the error reaches
the caller, and nothing hangs (a COPY that fails only at its end, as a lost connection does,
once left both threads waiting for each other for good)."""

import threading

import psycopg2

from crypto_assets.binance.wire import Kline
from crypto_assets.warehouse.binary_copy import candle_rows
from crypto_assets.warehouse.candles import CANDLE_COLUMNS, StreamingCopy, kline_frame

OPEN = 1_704_067_200_000  # 2024-01-01


def row(open_ms: int) -> bytes:
    kline = Kline(open_ms, "1", "2", "0.5", "1.5", "10", open_ms + 899_999, "15", 3, "5", "7.5")
    return candle_rows(kline_frame([kline]), CANDLE_COLUMNS, {"symbol": "BTCUSDT"}).data


def test_a_connection_lost_during_the_copy_is_raised_not_waited_on(pg_conn, db_url):
    outcome: list[BaseException | None] = []

    def copy() -> None:
        with pg_conn.cursor() as cur:
            try:
                with StreamingCopy(cur, "candles_15m", CANDLE_COLUMNS) as stream:
                    stream.write(row(OPEN))
                    with psycopg2.connect(db_url) as killer, killer.cursor() as kcur:
                        kcur.execute(
                            "SELECT pg_terminate_backend(%s)", (pg_conn.get_backend_pid(),)
                        )
                    killer.close()
                    stream.write(row(OPEN + 900_000))
            except psycopg2.Error as err:
                outcome.append(err)
            else:
                outcome.append(None)

    worker = threading.Thread(target=copy, daemon=True)
    worker.start()
    worker.join(timeout=20)
    assert not worker.is_alive(), "the COPY's threads are waiting for each other"
    assert isinstance(outcome[0], (psycopg2.OperationalError, psycopg2.InterfaceError))

"""``StreamingCopy`` when the connection is lost under it, on a real PostgreSQL: the error reaches
the caller, and nothing hangs (a COPY that fails only at its end, as a lost connection does,
once left both threads waiting for each other for good)."""

import threading

import psycopg2

from crypto_assets.warehouse.candles import CANDLE_COLUMNS, StreamingCopy

LINE = "BTCUSDT\t2024-01-01 00:00:00+00\t2024-01-01 00:14:59.999+00\t1\t2\t0.5\t1.5\t10\t15\t3\t5\t7.5\n"


def test_a_connection_lost_during_the_copy_is_raised_not_waited_on(pg_conn, db_url):
    outcome: list[BaseException | None] = []

    def copy() -> None:
        with pg_conn.cursor() as cur:
            try:
                with StreamingCopy(cur, "candles_15m", CANDLE_COLUMNS) as stream:
                    stream.write(LINE)
                    with psycopg2.connect(db_url) as killer, killer.cursor() as kcur:
                        kcur.execute(
                            "SELECT pg_terminate_backend(%s)", (pg_conn.get_backend_pid(),)
                        )
                    killer.close()
                    stream.write(LINE.replace("00:00:00+00", "00:15:00+00"))
            except psycopg2.Error as err:
                outcome.append(err)
            else:
                outcome.append(None)

    worker = threading.Thread(target=copy, daemon=True)
    worker.start()
    worker.join(timeout=20)
    assert not worker.is_alive(), "the COPY's threads are waiting for each other"
    assert isinstance(outcome[0], (psycopg2.OperationalError, psycopg2.InterfaceError))

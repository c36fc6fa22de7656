"""Binance's kline archive (``data.binance.vision``) for the simulated market.

    GET /data/spot/{monthly|daily}/klines/{SYMBOL}/{interval}/{SYMBOL}-{interval}-{YYYY-MM|YYYY-MM-DD}.zip
    GET ...zip.CHECKSUM      "<sha256>  <file name>\\n", as ``sha256sum`` writes it

A file holds the same candles REST serves for its month or day (the same ``KlineStore``, the
same outages), as the archive does: one CSV member, REST's 12 columns, no header; open and
close times in microseconds for files from 2025-01-01 (``1735689600000000``,
``1735689659999999``), in milliseconds before. A daily file is published
``daily_delay_ms`` after its day ends, a monthly one ``monthly_delay_ms`` after its month ends;
before that, and for periods without any candle (before the listing), the answer is 404 with
the S3 error body the real host sends. Zips are built once and kept (bounded by bytes): they
are deterministic, so a rebuilt file has the same checksum. No weight, no rate limit. Faults
(``faults.py``): ``archive_files`` damages chosen files, ``archive_bytes_per_s`` slows downloads.
"""

from __future__ import annotations

import asyncio
import calendar
import hashlib
import io
import re
import zipfile
from datetime import UTC, datetime

import numpy as np

from crypto_assets.binance.simulator.candles import CLOSE_TIME, OPEN_TIME
from crypto_assets.binance.simulator.clock import SimClock
from crypto_assets.binance.simulator.encode import encode_rows
from crypto_assets.binance.simulator.faults import Faults
from crypto_assets.binance.simulator.http11 import Request, Response
from crypto_assets.binance.simulator.klines import KlineStore, Outages
from crypto_assets.binance.simulator.lru import LRU
from crypto_assets.binance.simulator.rest import KLINE_INTERVALS
from crypto_assets.binance.simulator.stats import Stats
from crypto_assets.binance.simulator.symbols import SymbolSpec
from crypto_assets.binance.wire import DAY_MS, INTERVAL_MS

MICROSECONDS_FROM_MS = 1_735_689_600_000  # 2025-01-01: files from here on count in microseconds
DEFAULT_DAILY_DELAY_MS = 6 * 3_600_000
DEFAULT_MONTHLY_DELAY_MS = 2 * DAY_MS
_PATH = re.compile(
    r"^/data/spot/(?P<period>monthly|daily)/klines/(?P<symbol>[A-Z0-9]+)/(?P<interval>\w+)/"
    r"(?P<name>(?P=symbol)-(?P=interval)-(?P<label>\d{4}-\d{2}(?:-\d{2})?)\.zip)(?P<checksum>\.CHECKSUM)?$"
)
_NO_SUCH_KEY = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>NoSuchKey</Code>'
    b"<Message>The specified key does not exist.</Message></Error>"
)


def _missing() -> Response:
    return Response(404, _NO_SUCH_KEY, content_type="application/xml")


class ArchiveFiles:
    """Answers ``/data/...`` requests from the kline store."""

    def __init__(
        self,
        symbols: dict[str, SymbolSpec],
        store: KlineStore,
        clock: SimClock,
        faults: Faults,
        stats: Stats,
        *,
        daily_delay_ms: int = DEFAULT_DAILY_DELAY_MS,
        monthly_delay_ms: int = DEFAULT_MONTHLY_DELAY_MS,
        cache_bytes: int = 256 << 20,
    ) -> None:
        self._symbols, self._store, self._clock, self._faults, self._stats = (
            symbols,
            store,
            clock,
            faults,
            stats,
        )
        self._delays = {"daily": daily_delay_ms, "monthly": monthly_delay_ms}
        self._zips: LRU[tuple[bytes, str]] = LRU(cache_bytes, lambda entry: len(entry[0]))

    @staticmethod
    def knows(path: str) -> bool:
        return path.startswith("/data/")

    async def handle(self, request: Request) -> Response:
        response = await self._answer(request)
        whole_zip = (
            response.status == 200 and request.path.endswith(".zip") and response.cut_at is None
        )
        self._stats.record_archive(whole_zip, len(response.body) if whole_zip else 0)
        return response

    async def _answer(self, request: Request) -> Response:
        match = _PATH.match(request.path)
        if match is None or request.method != "GET":
            return _missing()
        interval = "1M" if match["interval"] == "1mo" else match["interval"]
        spec = self._symbols.get(match["symbol"])
        period = _period(match["period"], match["label"])
        if spec is None or interval not in KLINE_INTERVALS or period is None:
            return _missing()
        start, end = period
        now = self._clock.now_ms()
        fault = self._faults.current.archive_fault(match["name"])
        if fault == "missing" or now < end + self._delays[match["period"]]:
            return _missing()
        outages = self._faults.current.outages
        built = await asyncio.to_thread(
            self._zip, spec, interval, match["name"], start, end, now, outages, fault == "corrupt"
        )
        if built is None:
            return _missing()  # no candle in the period: no file
        body, sha256 = built
        if match["checksum"]:
            if fault == "bad_checksum":
                sha256 = hashlib.sha256(body + b"another upload").hexdigest()
            return Response(200, f"{sha256}  {match['name']}\n".encode(), content_type="text/plain")
        response = Response(200, body, content_type="application/zip")
        if fault == "truncated":
            response.cut_at = len(body) // 2
        if self._faults.current.archive_bytes_per_s:
            response.bytes_per_s = self._faults.current.archive_bytes_per_s
        return response

    def _zip(
        self,
        spec: SymbolSpec,
        interval: str,
        name: str,
        start: int,
        end: int,
        now: int,
        outages: Outages,
        corrupt: bool,
    ) -> tuple[bytes, str] | None:
        key = (spec.symbol, interval, name, outages, corrupt)
        cached = self._zips.get(key)
        if cached is not None:
            return cached
        step = INTERVAL_MS[interval] or DAY_MS
        rows = self._store.candles(
            spec,
            interval,
            start=start,
            end=end - 1,
            limit=(end - start) // step + 1,
            now=now,
            outages=outages,
        )
        if not len(rows):
            return None
        body = _zip_bytes(name, _csv(rows, microseconds=start >= MICROSECONDS_FROM_MS), end)
        if corrupt:
            middle = len(body) // 2
            body = body[:middle] + bytes(64) + body[middle + 64 :]
        entry = (body, hashlib.sha256(body).hexdigest())
        self._zips.put(key, entry)
        return entry


def _period(period: str, label: str) -> tuple[int, int] | None:
    """[start, end) in ms of a month ('2024-01') or day ('2024-01-05'); None for a bad label."""
    try:
        if period == "monthly":
            first = datetime.strptime(label, "%Y-%m").replace(tzinfo=UTC)
            days = calendar.monthrange(first.year, first.month)[1]
        else:
            first = datetime.strptime(label, "%Y-%m-%d").replace(tzinfo=UTC)
            days = 1
    except ValueError:
        return None
    start = int(first.timestamp()) * 1000
    return start, start + days * DAY_MS


def _csv(rows: np.ndarray, *, microseconds: bool) -> bytes:
    """Candle matrix -> the archive's CSV: REST's row without brackets and quotes, one a line."""
    if microseconds:
        rows = rows.copy()
        rows[:, OPEN_TIME] *= 1000
        rows[:, CLOSE_TIME] = rows[:, CLOSE_TIME] * 1000 + 999
    data, _ = encode_rows(rows)
    return data.replace(b"],", b"\n").translate(None, b'["')


def _zip_bytes(name: str, csv: bytes, end_ms: int) -> bytes:
    """A zip holding ``name`` as .csv, stamped with the period's end (the same bytes every time)."""
    stamp = datetime.fromtimestamp(end_ms / 1000, tz=UTC).timetuple()[:6]
    member = zipfile.ZipInfo(name[: -len(".zip")] + ".csv", date_time=stamp)
    member.compress_type = zipfile.ZIP_DEFLATED
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(member, csv)
    return buffer.getvalue()

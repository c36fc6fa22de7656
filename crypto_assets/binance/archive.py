"""Binance's public kline archive (``data.binance.vision``): monthly and daily zip files, verified.

Each file holds one symbol's candles of one interval for a calendar month or a UTC day::

    {base}/data/spot/monthly/klines/BTCUSDT/1m/BTCUSDT-1m-2024-01.zip
    {base}/data/spot/daily/klines/BTCUSDT/1m/BTCUSDT-1m-2024-01-05.zip

next to a ``.CHECKSUM`` file (``sha256sum`` format). A file is used only whole and only after
its bytes match that sha256 and every row parses; otherwise ``fetch`` or ``read_frame`` raises
and no row of it reaches the caller. Rows are REST's 12 columns as CSV without a header; their timestamps are
milliseconds before 2025-01-01 and microseconds from then on (told apart by magnitude, since
Binance switched between files) and come out as milliseconds, the unit REST sends, so both
sources give the same ``timestamptz``. Decimal fields stay the strings Binance wrote.

The archive has no rate limit and no weight: it costs the exchange's REST budget nothing.
"""

from __future__ import annotations

import calendar
import hashlib
import io
import re
import threading
import time
import zipfile
import zlib
from dataclasses import dataclass
from datetime import UTC, date, datetime
from urllib.parse import urlsplit

import httpx
import polars as pl

from crypto_assets.binance.wire import DAY_MS, Kline

# Spot archive timestamps at or above this are microseconds: a millisecond value gets here only
# in the year 5138, a microsecond one did in 1973.
MICROSECONDS_FROM = 10**14
_SHA256 = re.compile(r"^[0-9a-fA-F]{64}$")
_RETRYABLE_STATUS = {500, 502, 503, 504}


class ArchiveError(Exception):
    """A file of the archive could not be used; ``url`` names it."""

    def __init__(self, url: str, problem: str) -> None:
        self.url = url
        self.problem = problem
        super().__init__(f"archive file {url}: {problem}")


class ArchiveFileMissing(ArchiveError):
    """HTTP 404: the file is not published (yet, or at all)."""


class ArchiveFileBad(ArchiveError):
    """The file failed its checksum, is not a readable zip, was cut short or holds bad rows."""


class ArchiveUnreachable(ArchiveError):
    """The archive host cannot be reached at all (refused, unknown, timing out on connect)."""

    def __init__(self, url: str, problem: str) -> None:
        super().__init__(url, problem)
        self.host = urlsplit(url).netloc
        self.args = (f"archive host {self.host} is unreachable ({problem})",)


@dataclass(frozen=True)
class ArchiveFile:
    """One monthly or daily kline file of one symbol and interval."""

    symbol: str
    interval: str
    period: str  # "monthly" or "daily"
    label: str  # "2024-01" or "2024-01-05"
    start_ms: int  # first instant the file covers
    end_ms: int  # first instant after it

    @classmethod
    def month(cls, symbol: str, interval: str, year: int, month: int) -> ArchiveFile:
        days = calendar.monthrange(year, month)[1]
        start = _day_ms(date(year, month, 1))
        return cls(
            symbol, interval, "monthly", f"{year:04d}-{month:02d}", start, start + days * DAY_MS
        )

    @classmethod
    def day(cls, symbol: str, interval: str, day: date) -> ArchiveFile:
        start = _day_ms(day)
        return cls(symbol, interval, "daily", day.isoformat(), start, start + DAY_MS)

    @property
    def name(self) -> str:
        """``BTCUSDT-1m-2024-01.zip`` (a month-long interval is written ``1mo`` in file names)."""
        interval = "1mo" if self.interval == "1M" else self.interval
        return f"{self.symbol}-{interval}-{self.label}.zip"

    @property
    def path(self) -> str:
        interval = "1mo" if self.interval == "1M" else self.interval
        return f"/data/spot/{self.period}/klines/{self.symbol}/{interval}/{self.name}"


def _day_ms(day: date) -> int:
    return int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp()) * 1000


@dataclass(frozen=True)
class VerifiedFile:
    """A downloaded file whose sha256 matched its ``.CHECKSUM``: the CSV inside, not yet parsed."""

    file: ArchiveFile
    url: str
    zip_bytes: int
    csv: bytes


class BinanceArchiveClient:
    """Downloads and verifies archive files; thread-safe (files are fetched several at a time).

    Transient trouble (a body cut short, a 5xx, a read timeout, a checksum that no longer
    matches because the file is being re-uploaded) is retried ``max_retries`` times; a file
    still failing raises ``ArchiveFileBad``, a host refusing connections ``ArchiveUnreachable``.
    ``download_timeout_s`` bounds one whole download, however slowly the bytes trickle in.
    """

    def __init__(
        self,
        base_url: str,
        *,
        concurrency: int = 4,
        connect_timeout_s: float = 5.0,
        download_timeout_s: float = 120.0,
        max_retries: int = 2,
        backoff_s: float = 0.2,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.concurrency = concurrency
        self.download_timeout_s = download_timeout_s
        self.max_retries = max_retries
        self.backoff_s = backoff_s
        self._http = httpx.Client(
            base_url=self.base_url,
            timeout=httpx.Timeout(download_timeout_s, connect=connect_timeout_s),
            limits=httpx.Limits(
                max_connections=concurrency + 2, max_keepalive_connections=concurrency + 2
            ),
            transport=transport,
        )
        self._lock = threading.Lock()
        self.stats = {"files": 0, "bytes": 0, "retries": 0}

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> BinanceArchiveClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def url(self, file: ArchiveFile) -> str:
        return f"{self.base_url}{file.path}"

    def fetch(self, file: ArchiveFile) -> VerifiedFile:
        """Download ``file`` and its checksum; returns the CSV once the sha256 matches."""
        url = self.url(file)
        problem = "no attempt made"
        for attempt in range(self.max_retries + 1):
            self._pause_before(attempt)
            expected = _parse_checksum(url, self._download(url + ".CHECKSUM"))
            body = self._download(url)
            actual = hashlib.sha256(body).hexdigest()
            if actual == expected:
                with self._lock:
                    self.stats["files"] += 1
                    self.stats["bytes"] += len(body)
                return VerifiedFile(file, url, len(body), _unzip(url, file, body))
            problem = f"sha256 {actual} does not match its .CHECKSUM {expected}"
        raise ArchiveFileBad(url, f"{problem} (after {self.max_retries + 1} downloads)")

    def _download(self, url: str) -> bytes:
        """GET ``url`` whole within the download timeout, retrying transient failures."""
        problem = "no attempt made"
        for attempt in range(self.max_retries + 1):
            self._pause_before(attempt)
            try:
                status, body = self._get(url)
            except httpx.ConnectError as err:
                raise ArchiveUnreachable(
                    url, f"{type(err).__name__}: {str(err) or 'connection refused'}"
                ) from None
            except httpx.ConnectTimeout:
                raise ArchiveUnreachable(url, "connection timed out") from None
            except (httpx.TransportError, _DownloadTooSlow) as err:
                problem = _describe(err)
                continue
            if status == 404:
                raise ArchiveFileMissing(url, "not published (HTTP 404)")
            if status in _RETRYABLE_STATUS:
                problem = f"HTTP {status}"
                continue
            if status != 200:
                raise ArchiveFileBad(url, f"HTTP {status}")
            return body
        raise ArchiveFileBad(url, f"download failed {self.max_retries + 1} times: {problem}")

    def _pause_before(self, attempt: int) -> None:
        """Back off exponentially before a retry (attempt 0 is the first try: no pause)."""
        if attempt:
            with self._lock:
                self.stats["retries"] += 1
            time.sleep(self.backoff_s * 2 ** (attempt - 1))

    def _get(self, url: str) -> tuple[int, bytes]:
        deadline = time.monotonic() + self.download_timeout_s
        chunks = []
        with self._http.stream("GET", url) as response:
            for chunk in response.iter_bytes():
                chunks.append(chunk)
                if time.monotonic() > deadline:
                    raise _DownloadTooSlow(
                        f"not complete after {self.download_timeout_s:g} s ({sum(map(len, chunks)):,} bytes)"
                    )
            return response.status_code, b"".join(chunks)


class _DownloadTooSlow(Exception):
    pass


def _describe(err: Exception) -> str:
    text = str(err) or type(err).__name__
    if isinstance(err, httpx.RemoteProtocolError):
        return f"download cut short ({text})"
    return text


def _parse_checksum(url: str, body: bytes) -> str:
    """The sha256 of a ``.CHECKSUM`` file: ``<64 hex digits>  <file name>``."""
    token = body.split(maxsplit=1)[0].decode("ascii", "replace") if body.strip() else ""
    if not _SHA256.match(token):
        raise ArchiveFileBad(url, f".CHECKSUM does not start with a sha256 ({body[:80]!r})")
    return token.lower()


def _unzip(url: str, file: ArchiveFile, body: bytes) -> bytes:
    """The one CSV inside the zip (its CRC is checked while reading)."""
    expected = file.name[: -len(".zip")] + ".csv"
    try:
        with zipfile.ZipFile(io.BytesIO(body)) as archive:
            names = archive.namelist()
            if names != [expected]:
                raise ArchiveFileBad(url, f"expected one member {expected}, found {names}")
            return archive.read(expected)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, EOFError, OSError) as err:
        raise ArchiveFileBad(url, f"not a readable zip ({err})") from None


KLINE_COLUMNS = Kline._fields
_INTEGER_COLUMNS = ("open_time", "close_time", "trade_count")
_CSV_SCHEMA = {**dict.fromkeys(KLINE_COLUMNS, pl.String), "ignore": pl.String}


def read_frame(verified: VerifiedFile) -> pl.DataFrame:
    """The file's rows as a frame with ``Kline``'s columns, oldest first: open and close times
    in ms, the trade count an integer, every decimal the string Binance wrote.

    Raises ``ArchiveFileBad`` for rows that are not 12 columns with integer times and trade
    count, and for rows out of order or outside the file's month or day (a sign of a misread
    unit), so a file is used whole or not at all. Read with polars: a 1m month is 44,640 rows.
    """
    file, url, csv = verified.file, verified.url, verified.csv
    header = 1 if csv[:1] and not csv[:1].isdigit() else 0  # Binance adds a header to some files
    try:
        text = pl.read_csv(csv, has_header=False, skip_rows=header, schema=_CSV_SCHEMA)
    except (pl.exceptions.PolarsError, ValueError) as err:
        raise ArchiveFileBad(
            url, f"not 12-column kline rows ({str(err).splitlines()[0]})"
        ) from None
    if text.null_count().sum_horizontal().item():
        raise ArchiveFileBad(url, "not 12-column kline rows (a row has fewer columns)")
    try:
        frame = text.select(
            *(
                pl.col(name).cast(pl.Int64, strict=True)
                if name in _INTEGER_COLUMNS
                else pl.col(name)
                for name in KLINE_COLUMNS
            )
        )
    except pl.exceptions.PolarsError:
        raise ArchiveFileBad(url, "a time or trade count is not an integer") from None
    frame = frame.with_columns(
        pl.when(pl.col(name) >= MICROSECONDS_FROM)
        .then(pl.col(name) // 1000)
        .otherwise(pl.col(name))
        .alias(name)
        for name in ("open_time", "close_time")
    )
    open_times = frame["open_time"]
    if len(frame) and (
        open_times[0] < file.start_ms
        or open_times[-1] >= file.end_ms
        or (open_times.diff().drop_nulls() <= 0).any()
    ):
        raise ArchiveFileBad(url, f"open times out of order or outside {file.label}")
    return frame

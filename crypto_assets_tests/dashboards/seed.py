"""A small, realistic market for the dashboard tests, written with COPY.

A seeded random walk of 1m candles per symbol over ``days`` days ending at ``end`` (the newest
minute still forming, as the stream leaves it), with one deliberate gap; the 15m, 1h and 1d
candles and the daily metrics computed from those minutes; two hours of 2-second price samples
that stay inside their candles, downsampled into 1m and 5m windows; one stream heartbeat.
Values are generated here, independently of the dashboard's queries, so tests can compare
the dashboard against them.
"""

from __future__ import annotations

import contextlib
import io
import itertools
import math
import random
import statistics
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

import psycopg2

MINUTE = timedelta(minutes=1)
START_PRICES = {"BTCUSDT": 64_000.0, "ETHUSDT": 3_100.0, "SOLUSDT": 145.0, "BNBUSDT": 560.0}
SAMPLE_EVERY = timedelta(seconds=2)
WINDOWS = (timedelta(minutes=1), timedelta(minutes=5))


@dataclass(frozen=True)
class Candle:
    open_time: datetime
    width: timedelta
    open: float
    high: float
    low: float
    close: float
    volume: float
    trades: int

    @property
    def quote_volume(self) -> float:
        return self.volume * (self.open + self.close) / 2


@dataclass
class SeededMarket:
    """What was written: every candle per symbol and width, the samples, and the gap."""

    end: datetime
    symbols: tuple[str, ...]
    minutes: dict[str, list[Candle]] = field(default_factory=dict)
    rollups: dict[tuple[str, timedelta], list[Candle]] = field(default_factory=dict)
    samples: dict[str, list[tuple[datetime, float]]] = field(default_factory=dict)
    gap: tuple[str, datetime, int] | None = None  # symbol, first missing minute, minutes missing


def _walk(symbol: str, start: datetime, count: int, rng: random.Random) -> list[Candle]:
    price = START_PRICES.get(symbol, 100.0)
    candles = []
    for i in range(count):
        open_ = price
        price = open_ * math.exp(rng.gauss(0, 0.0006))
        high = max(open_, price) * (1 + abs(rng.gauss(0, 0.0003)))
        low = min(open_, price) * (1 - abs(rng.gauss(0, 0.0003)))
        candles.append(
            Candle(
                start + i * MINUTE,
                MINUTE,
                open_,
                high,
                low,
                price,
                rng.uniform(5, 50) * 1_000 / START_PRICES.get(symbol, 100.0) * 10,
                rng.randint(50, 900),
            )
        )
    return candles


def rollup(candles: list[Candle], width: timedelta) -> list[Candle]:
    """Candles merged into ``width`` buckets (aligned on UTC midnight)."""
    groups: dict[datetime, list[Candle]] = {}
    midnight = datetime(2000, 1, 3, tzinfo=UTC)
    for c in candles:
        groups.setdefault(midnight + (c.open_time - midnight) // width * width, []).append(c)
    return [
        Candle(
            t,
            width,
            g[0].open,
            max(c.high for c in g),
            min(c.low for c in g),
            g[-1].close,
            sum(c.volume for c in g),
            sum(c.trades for c in g),
        )
        for t, g in sorted(groups.items())
    ]


def _samples(candle: Candle, until: datetime, rng: random.Random) -> list[tuple[datetime, float]]:
    out, t = [], candle.open_time
    while t < min(candle.open_time + MINUTE, until + timedelta(microseconds=1)):
        share = (t - candle.open_time) / MINUTE
        mid = candle.open + (candle.close - candle.open) * share
        out.append((t, min(candle.high, max(candle.low, mid * (1 + rng.gauss(0, 0.0001))))))
        t += SAMPLE_EVERY
    return out


def _candle_line(symbol: str, c: Candle, extra: str) -> str:
    close_time = c.open_time + c.width - timedelta(milliseconds=1)
    return (
        f"{symbol}\t{c.open_time.isoformat()}\t{close_time.isoformat()}\t{c.open:.4f}\t{c.high:.4f}\t"
        f"{c.low:.4f}\t{c.close:.4f}\t{c.volume:.6f}\t{c.quote_volume:.6f}\t{c.trades}\t"
        f"{c.volume / 2:.6f}\t{c.quote_volume / 2:.6f}{extra}\n"
    )


_CANDLE_COLUMNS = (
    "symbol, open_time, close_time, open, high, low, close, volume, quote_volume, trade_count,"
    " taker_buy_base_volume, taker_buy_quote_volume"
)


def _copy(cur, table: str, columns: str, lines: list[str]) -> None:
    cur.copy_expert(f"COPY {table} ({columns}) FROM STDIN", io.StringIO("".join(lines)))


@dataclass(frozen=True)
class DayMetrics:
    """One UTC day of one symbol, computed from its 1m candles as market_metrics_daily defines it."""

    day: date
    candles: list[Candle]
    previous_close: float | None

    @property
    def log_return(self) -> float | None:
        return (
            None
            if self.previous_close is None
            else math.log(self.candles[-1].close / self.previous_close)
        )

    @property
    def realized_volatility(self) -> float:
        closes = [c.close for c in self.candles]
        return math.sqrt(sum(math.log(b / a) ** 2 for a, b in itertools.pairwise(closes)))

    @property
    def range_pct(self) -> float:
        return (
            (max(c.high for c in self.candles) - min(c.low for c in self.candles))
            / self.candles[0].open
            * 100
        )


def daily_metrics(minutes: list[Candle]) -> list[DayMetrics]:
    """The days of ``minutes``, in order, each with the previous day's close."""
    days: dict[date, list[Candle]] = {}
    for c in minutes:
        days.setdefault(c.open_time.date(), []).append(c)
    out, previous = [], None
    for day in sorted(days):
        out.append(DayMetrics(day, days[day], previous))
        previous = days[day][-1].close
    return out


def _metrics_line(symbol: str, m: DayMetrics) -> str:
    day, rv = m.candles, m.realized_volatility
    open_, close = day[0].open, day[-1].close
    simple = r"\N" if m.previous_close is None else f"{close / m.previous_close - 1:.10f}"
    log = r"\N" if m.log_return is None else f"{m.log_return:.10f}"
    prev = r"\N" if m.previous_close is None else f"{m.previous_close:.4f}"
    return (
        f"{symbol}\t{m.day.isoformat()}\t{open_:.4f}\t{close:.4f}\t{prev}\t{simple}\t{log}\t"
        f"{rv:.10f}\t{rv * math.sqrt(365):.10f}\t{m.range_pct:.10f}\t"
        f"{sum(c.volume for c in day):.6f}\t{sum(c.quote_volume for c in day):.6f}\t"
        f"{sum(c.trades for c in day)}\t{len(day)}\n"
    )


def seed_market(
    database_url: str,
    symbols=("BTCUSDT", "ETHUSDT", "SOLUSDT"),
    *,
    end: datetime | None = None,
    days: int = 45,
    sample_hours: float = 2,
    gap_minutes: int = 5,
    seed: int = 5,
) -> SeededMarket:
    """Write the market into the (migrated, empty) database; return what was written."""
    end = end or datetime.now(UTC).replace(second=0, microsecond=0)
    rng = random.Random(seed)
    market = SeededMarket(end=end, symbols=tuple(symbols))
    start = end - timedelta(days=days) + MINUTE
    sample_from = end - timedelta(hours=sample_hours)
    for index, symbol in enumerate(symbols):
        minutes = _walk(symbol, start, days * 24 * 60, rng)
        if index == 0 and gap_minutes:
            cut = len(minutes) - 6 * 60  # six hours ago
            market.gap = (symbol, minutes[cut].open_time, gap_minutes)
            minutes = minutes[:cut] + minutes[cut + gap_minutes :]
        forming = minutes[-1]  # the newest minute has just opened: its first push only
        minutes[-1] = Candle(
            forming.open_time,
            MINUTE,
            forming.open,
            forming.open,
            forming.open,
            forming.open,
            forming.volume / 30,
            forming.trades // 30,
        )
        market.minutes[symbol] = minutes
        for width in (timedelta(minutes=15), timedelta(hours=1), timedelta(days=1)):
            market.rollups[(symbol, width)] = rollup(minutes, width)
        market.samples[symbol] = [
            s
            for c in minutes
            if c.open_time >= sample_from - MINUTE
            for s in _samples(c, end, rng)
            if s[0] >= sample_from
        ]
    _write(database_url, market)
    return market


def downsample(
    samples: list[tuple[datetime, float]], width: timedelta
) -> list[tuple[datetime, list[float]]]:
    """Samples grouped into ``width`` windows: (window start, prices)."""
    groups: dict[datetime, list[float]] = {}
    midnight = datetime(2000, 1, 3, tzinfo=UTC)
    for t, price in samples:
        groups.setdefault(midnight + (t - midnight) // width * width, []).append(price)
    return sorted(groups.items())


def _write(database_url: str, market: SeededMarket) -> None:
    with contextlib.closing(psycopg2.connect(database_url)) as conn, conn.cursor() as cur:
        for symbol in market.symbols:
            minutes = market.minutes[symbol]
            _copy(
                cur,
                "candles_1m",
                _CANDLE_COLUMNS + ", is_closed, source",
                [
                    _candle_line(
                        symbol, c, "\tf\tstream" if c.open_time == market.end else "\tt\trest"
                    )
                    for c in minutes
                ],
            )
            _copy(
                cur,
                "candles_15m",
                _CANDLE_COLUMNS,
                [
                    _candle_line(symbol, c, "")
                    for c in market.rollups[(symbol, timedelta(minutes=15))]
                ],
            )
            for width, table in (
                (timedelta(hours=1), "candles_1h"),
                (timedelta(days=1), "candles_1d"),
            ):
                per = width // MINUTE
                _copy(
                    cur,
                    table,
                    _CANDLE_COLUMNS + ", vwap, source_candles, is_complete",
                    [
                        _candle_line(symbol, c, f"\t{c.quote_volume / c.volume:.6f}\t{per}\tt")
                        for c in market.rollups[(symbol, width)]
                    ],
                )
            lines = [_metrics_line(symbol, m) for m in daily_metrics(minutes)]
            _copy(
                cur,
                "market_metrics_daily",
                "symbol, day, open, close, previous_close, simple_return, log_return, realized_volatility,"
                " realized_volatility_annualized, range_pct, volume, quote_volume, trade_count, minutes_observed",
                lines,
            )
            samples = market.samples[symbol]
            _copy(
                cur,
                "price_samples",
                "symbol, sampled_at, price",
                [f"{symbol}\t{t.isoformat()}\t{p:.4f}\n" for t, p in samples],
            )
            _copy(
                cur,
                "price_downsampled",
                "symbol, bucket_start, bucket_width, avg_price, median_price, min_price, max_price, sample_count",
                [
                    f"{symbol}\t{t.isoformat()}\t{int(width.total_seconds())} seconds\t{statistics.fmean(ps):.6f}\t"
                    f"{statistics.median(ps):.6f}\t{min(ps):.4f}\t{max(ps):.4f}\t{len(ps)}\n"
                    for width in WINDOWS
                    for t, ps in downsample([(t, round(p, 4)) for t, p in samples], width)
                ],
            )
        cur.execute(
            "INSERT INTO stream_heartbeats (connection_id, streams, connected_at, last_message_at,"
            " reconnect_count, malformed_count, updated_at) VALUES ('conn-0', %s, %s, %s, 1, 0, %s)",
            (len(market.symbols), market.end - timedelta(hours=3), market.end, market.end),
        )
        conn.commit()

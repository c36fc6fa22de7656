"""Candle frames as ``COPY ... (FORMAT binary)`` rows: the server parses no text.

PostgreSQL spends about a third of a text COPY of candles turning text into values: timestamps
through its date parser, decimals through ``numeric_in``. In binary the timestamps are integers
and each decimal arrives as base-10,000 digit groups, so the server loads a symbol-year of 1m
candles in about two thirds of its text time (``bench/bench_archive.py``).

The values stay exactly what Binance wrote: each decimal string keeps its digits and its display
scale (``"16001.73000000"`` is stored with 8 decimals, as ``numeric_in`` stores it). Rows are
built column by column with polars and numpy, and every row of one frame has the same width
(each decimal column uses as many digit groups as its widest value), so a frame's rows are cut
into days by row number.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import NoReturn

import numpy as np
import polars as pl

HEADER = b"PGCOPY\n\xff\r\n\x00" + bytes(8)  # signature, flags 0, no header extension
TRAILER = b"\xff\xff"
_PG_EPOCH_MS = 946_684_800_000  # 2000-01-01 UTC, where PostgreSQL's timestamps count from
_NUMERIC_NEGATIVE = 0x4000
_MAX_SCALE = 16  # decimals a value may have (Binance writes 8)
_MAX_INTEGER = 10**18  # an integer part must stay below this


@dataclass(frozen=True)
class BinaryRows:
    """A frame's rows in COPY binary format, each ``width`` bytes (no header, no trailer)."""

    data: bytes
    width: int

    def slice(self, lo: int, hi: int) -> bytes:
        """Rows ``lo`` (inclusive) to ``hi`` (exclusive)."""
        return self.data[lo * self.width : hi * self.width]


@dataclass(frozen=True)
class _Decimals:
    """One decimal column, taken apart: sign, integer part, fraction digits (an integer of
    ``4 * fraction_groups`` digits) and each value's own scale."""

    negative: np.ndarray
    integer: np.ndarray
    fraction: np.ndarray
    scales: np.ndarray
    fraction_groups: int

    @property
    def whole_groups(self) -> int:
        top, groups = int(self.integer.max()) if len(self.integer) else 0, 1
        while top >= 10_000**groups:
            groups += 1
        return groups


def candle_rows(
    frame: pl.DataFrame, columns: Sequence[str], constants: Mapping[str, object]
) -> BinaryRows:
    """COPY binary rows of ``columns``: each either a column of ``frame`` (times in epoch ms for
    names ending in ``_time``, decimal strings, or integers) or a key of ``constants`` (one value
    for every row: str, bool or int).

    Raises ``ValueError`` naming the column and value for a string that is not a plain decimal
    number, or one too large to carry exactly (more than 16 decimals, or 10**18 and over).
    """
    if frame.is_empty():
        return BinaryRows(b"", 0)
    decimals = _take_apart(
        frame, [c for c in columns if c not in constants and frame.schema[c] == pl.String]
    )
    sizes = []
    for name in columns:
        if name in constants:
            sizes.append(4 + len(_constant(constants[name])))
        elif name in decimals:
            d = decimals[name]
            sizes.append(12 + 2 * (d.whole_groups + d.fraction_groups))
        else:
            sizes.append(12)  # timestamptz and bigint: 8 bytes
    n, width = len(frame), 2 + sum(sizes)
    rows = np.empty((n, width), dtype=np.uint8)
    rows[:, :2] = np.frombuffer(len(columns).to_bytes(2, "big"), dtype=np.uint8)
    offset = 2
    for name, size in zip(columns, sizes, strict=True):
        field = rows[:, offset : offset + size]
        if name in constants:
            data = _constant(constants[name])
            field[:] = np.frombuffer(len(data).to_bytes(4, "big") + data, dtype=np.uint8)
        elif name in decimals:
            _write_numeric(field, decimals[name])
        else:
            values = frame[name].to_numpy().astype(np.int64)
            if name.endswith("_time"):
                values = (values - _PG_EPOCH_MS) * 1000
            field[:, :4] = np.frombuffer((8).to_bytes(4, "big"), dtype=np.uint8)
            field[:, 4:].view(">i8")[:, 0] = values
        offset += size
    return BinaryRows(rows.tobytes(), width)


def _constant(value: object) -> bytes:
    if isinstance(value, bool):
        return b"\x01" if value else b"\x00"
    if isinstance(value, int):
        return value.to_bytes(8, "big", signed=True)
    if isinstance(value, str):
        return value.encode()
    raise TypeError(f"a constant column must be str, bool or int, not {type(value).__name__}")


def _take_apart(frame: pl.DataFrame, names: Sequence[str]) -> dict[str, _Decimals]:
    """Each decimal column taken apart by polars, in one query (a REST day is a small frame:
    the query's fixed cost counts as much as its rows)."""
    if not names:
        return {}
    texts = frame.select(names)
    columns = []
    for name in names:
        text = pl.col(name)
        mantissa = text.cast(pl.Decimal(38, _MAX_SCALE), strict=True).to_physical().abs()
        scale = (text.str.len_bytes() - text.str.find(".", literal=True) - 1).fill_null(0)
        columns += [
            text.str.starts_with("-").alias(f"{name}-"),
            (mantissa // 10**_MAX_SCALE).cast(pl.Int64, strict=False).alias(f"{name}.i"),
            (mantissa % 10**_MAX_SCALE).cast(pl.Int64).alias(f"{name}.f"),
            scale.cast(pl.Int64).alias(f"{name}.s"),
            (
                text.is_null()
                | text.str.contains("e", literal=True)
                | text.str.contains("E", literal=True)
                | (scale > _MAX_SCALE)
                | (mantissa >= _MAX_INTEGER * 10**_MAX_SCALE)
            ).alias(f"{name}!"),
        ]
    try:
        parts = texts.lazy().select(columns).collect()
    except pl.exceptions.PolarsError:  # a value polars cannot read as a decimal at all
        _explain(texts, names)
    for name in names:
        if parts[f"{name}!"].any():
            _explain(texts, names)
    out = {}
    for name in names:
        scales = parts[f"{name}.s"].to_numpy()
        groups = -(-int(scales.max() if len(scales) else 0) // 4)
        out[name] = _Decimals(
            parts[f"{name}-"].to_numpy(),
            parts[f"{name}.i"].to_numpy(),
            parts[f"{name}.f"].to_numpy() // 10 ** (_MAX_SCALE - 4 * groups),
            scales,
            groups,
        )
    return out


_PLAIN_DECIMAL = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)")


def _explain(texts: pl.DataFrame, names: Sequence[str]) -> NoReturn:
    """Raise ``ValueError`` naming the first value that cannot be carried exactly."""
    for name in names:
        for value in texts[name]:
            if value is None or not _PLAIN_DECIMAL.fullmatch(value):
                raise ValueError(f"column {name}: {value!r} is not a plain decimal number")
            whole, _, fraction = value.lstrip("+-").partition(".")
            if len(fraction) > _MAX_SCALE:
                raise ValueError(
                    f"column {name}: {value!r} has {len(fraction)} decimals, more than {_MAX_SCALE}"
                )
            if int(whole or 0) >= _MAX_INTEGER:
                raise ValueError(f"column {name}: {value!r} is {_MAX_INTEGER:.0e} or more")
    raise ValueError(f"columns {', '.join(names)}: a value is not a plain decimal number")


def _write_numeric(field: np.ndarray, d: _Decimals) -> None:
    """One ``numeric`` per row: length, digit count, weight, sign, display scale, then base-10,000
    digit groups (leading and trailing zero groups are allowed: the server strips them)."""
    whole, groups = d.whole_groups, d.whole_groups + d.fraction_groups
    head = (8 + 2 * groups).to_bytes(4, "big") + groups.to_bytes(2, "big")
    field[:, :8] = np.frombuffer(head + (whole - 1).to_bytes(2, "big"), dtype=np.uint8)
    field[:, 8:10].view(">u2")[:, 0] = np.where(d.negative, _NUMERIC_NEGATIVE, 0)
    field[:, 10:12].view(">u2")[:, 0] = d.scales
    digits = field[:, 12:].view(">u2")
    rest = d.integer
    for index in range(whole - 1, -1, -1):
        rest, digits[:, index] = np.divmod(rest, 10_000)
    rest = d.fraction
    for index in range(groups - 1, whole - 1, -1):
        rest, digits[:, index] = np.divmod(rest, 10_000)

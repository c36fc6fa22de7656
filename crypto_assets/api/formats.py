"""Bodies of the streamed formats: CSV, Arrow IPC stream and Parquet, batch by batch.

Each batch of rows arrives as CSV text from PostgreSQL (``export.copy_batches``). CSV goes out
as it is, after a header row. For Arrow and Parquet, pyarrow parses the batch with the column
types fixed in advance (so every batch has the same schema) and writes it to the stream: one
Arrow record batch or one Parquet row group per batch. Memory holds one batch at a time.

Types: times are ``timestamp[us, UTC]``, days ``date32``, counts ``int64``, flags ``bool``,
ratios ``float64``, and every price and quantity a **string** holding its exact decimal text,
as in JSON and CSV (a fixed-scale decimal type would round the many-digit values of vwap and
avg_price). In polars: ``pl.col("close").str.to_decimal()``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from crypto_assets.warehouse.queries.export import Kind, Series

MEDIA_TYPES = {
    "json": "application/json",
    "csv": "text/csv; charset=utf-8",
    "arrow": "application/vnd.apache.arrow.stream",
    "parquet": "application/vnd.apache.parquet",
}
EXTENSIONS = {"json": "json", "csv": "csv", "arrow": "arrows", "parquet": "parquet"}

_PARSED = {  # how pyarrow reads each kind from an ARROW-layout batch
    Kind.TIME: pa.int64(), Kind.DATE: pa.int32(), Kind.DECIMAL: pa.string(), Kind.INTEGER: pa.int64(),
    Kind.BOOLEAN: pa.bool_(), Kind.FLOAT: pa.float64(), Kind.TEXT: pa.string(), Kind.WIDTH: pa.string(),
}
_TYPES = {**_PARSED, Kind.TIME: pa.timestamp("us", tz="UTC"), Kind.DATE: pa.date32()}


def arrow_schema(series: Series) -> pa.Schema:
    return pa.schema([pa.field(c.name, _TYPES[c.kind]) for c in series.columns])


def csv_header(series: Series) -> bytes:
    return (",".join(series.names) + "\n").encode()


class _Sink:
    """Where pyarrow writes; ``take()`` hands over what it wrote so far."""

    closed = False

    def __init__(self):
        self._parts: list[bytes] = []
        self._position = 0

    def write(self, data) -> int:
        chunk = bytes(data)
        self._parts.append(chunk)
        self._position += len(chunk)
        return len(chunk)

    def tell(self) -> int:
        return self._position

    def flush(self) -> None:
        pass

    def close(self) -> None:
        self.closed = True

    def take(self) -> bytes:
        data, self._parts = b"".join(self._parts), []
        return data


class _BatchReader:
    """CSV batches (ARROW layout) -> pyarrow tables of ``series``' schema."""

    def __init__(self, series: Series):
        self.schema = arrow_schema(series)
        self._read = pacsv.ReadOptions(column_names=list(series.names), use_threads=False)
        self._convert = pacsv.ConvertOptions(
            column_types={c.name: _PARSED[c.kind] for c in series.columns}, strings_can_be_null=True,
        )

    def __call__(self, batch: bytes) -> pa.Table:
        table = pacsv.read_csv(pa.py_buffer(batch), read_options=self._read, convert_options=self._convert)
        return table.cast(self.schema)


def csv_body(series: Series, batches: Iterable[bytes]) -> Iterator[bytes]:
    yield csv_header(series)
    yield from batches


def arrow_body(series: Series, batches: Iterable[bytes]) -> Iterator[bytes]:
    read, sink = _BatchReader(series), _Sink()
    with pa.ipc.new_stream(sink, read.schema) as writer:
        yield sink.take()
        for batch in batches:
            writer.write_table(read(batch))
            yield sink.take()
    yield sink.take()


def parquet_body(series: Series, batches: Iterable[bytes]) -> Iterator[bytes]:
    read, sink = _BatchReader(series), _Sink()
    with pq.ParquetWriter(sink, read.schema) as writer:
        for batch in batches:
            writer.write_table(read(batch))
            yield sink.take()
    yield sink.take()


BODIES = {"csv": csv_body, "arrow": arrow_body, "parquet": parquet_body}

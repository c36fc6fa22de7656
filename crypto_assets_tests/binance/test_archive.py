"""The archive reader (``crypto_assets/binance/archive.py``) against the simulator's archive over
real HTTP, and on hand-made files: checksums, broken files, 404s, unreachable hosts, ms and us."""

import hashlib
import io
import json
import zipfile
from datetime import date
from pathlib import Path

import httpx
import pytest

from crypto_assets.binance.archive import (
    ArchiveFile,
    ArchiveFileBad,
    ArchiveFileMissing,
    ArchiveUnreachable,
    BinanceArchiveClient,
    VerifiedFile,
    read_frame,
)

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
DAY = date(2024, 2, 3)


@pytest.fixture
def archive(simulator):
    with BinanceArchiveClient(simulator.url, backoff_s=0.01) as client:
        yield client


def rows(frame) -> list[list]:
    return [list(row) for row in frame.iter_rows()]


def recorded(name: str, start_ms: int, end_ms: int) -> list[list]:
    """The recorded REST rows (real Binance) opening in [start_ms, end_ms), without 'ignore'."""
    return [
        row[:11] for row in json.loads((FIXTURES / name).read_text()) if start_ms <= row[0] < end_ms
    ]


def test_archive_files_equal_the_recorded_rest_klines_digit_for_digit(archive):
    day = ArchiveFile.day("BTCUSDT", "1m", date(2024, 9, 4))  # recorded 02:27 .. 19:06
    minutes = rows(read_frame(archive.fetch(day)))
    expected = recorded("BTCUSDT_1m_klines_2024-09-04.json", day.start_ms, day.end_ms)
    assert len(expected) == 1000
    assert [row for row in minutes if expected[0][0] <= row[0] <= expected[-1][0]] == expected
    month = ArchiveFile.month("BTCUSDT", "15m", 2024, 8)  # recorded from 2024-08-22 06:30
    quarters = rows(read_frame(archive.fetch(month)))
    expected = recorded("BTCUSDT_15m_klines_2024-08-22_09-01.json", month.start_ms, month.end_ms)
    assert len(quarters) == 31 * 96 and len(expected) == 9 * 96 + 70  # 08-22 06:30 .. 08-31 23:45
    assert quarters[-len(expected) :] == expected


def test_a_file_as_binance_writes_it_reads_back_exactly(tmp_path):
    """A zip made here from the real REST recording, without the simulator: the reader keeps
    every decimal string and time as the exchange sent it."""
    expected = recorded("BTCUSDT_1m_klines_2024-09-04.json", 0, 2**62)
    csv = "".join(",".join(str(v) for v in row) + ",0\n" for row in expected).encode()
    frame = read_frame(
        VerifiedFile(ArchiveFile.day("BTCUSDT", "1m", date(2024, 9, 4)), "file://x", 0, csv)
    )
    assert rows(frame) == expected


def test_microsecond_and_millisecond_times_are_told_apart_by_magnitude():
    """From 2025-01-01 the archive writes microseconds; both come out as REST's milliseconds."""
    us = (
        b"1735689600000000,93576.00000000,93610.93000000,93537.50000000,93610.93000000,8.21827000,"
        b"1735689659999999,769057.70799120,1818,3.68993000,345381.17003640,0\n"
    )
    ms = (
        b"1704067200000,42283.58000000,42298.62000000,42283.58000000,42298.61000000,35.92724000,"
        b"1704067259999,1519032.11227280,1327,23.10719000,976715.04574310,0\n"
    )
    new = read_frame(VerifiedFile(ArchiveFile.day("BTCUSDT", "1m", date(2025, 1, 1)), "u", 0, us))
    old = read_frame(VerifiedFile(ArchiveFile.day("BTCUSDT", "1m", date(2024, 1, 1)), "m", 0, ms))
    assert rows(new) == [
        [
            1735689600000,
            "93576.00000000",
            "93610.93000000",
            "93537.50000000",
            "93610.93000000",
            "8.21827000",
            1735689659999,
            "769057.70799120",
            1818,
            "3.68993000",
            "345381.17003640",
        ]
    ]
    assert rows(old)[0][0] == 1704067200000 and rows(old)[0][6] == 1704067259999


def test_the_simulator_writes_microseconds_from_2025_and_they_read_as_rest(archive, simulator):
    file = ArchiveFile.day("ETHUSDT", "15m", date(2025, 3, 10))
    verified = archive.fetch(file)
    first = verified.csv.split(b"\n", 1)[0].split(b",")
    assert (first[0], first[6]) == (
        b"1741564800000000",
        b"1741565699999999",
    )  # 2025-03-10 00:00, 00:14:59.999999
    rest = httpx.get(
        f"{simulator.url}/api/v3/klines",
        params={
            "symbol": "ETHUSDT",
            "interval": "15m",
            "startTime": file.start_ms,
            "endTime": file.end_ms - 1,
            "limit": 1000,
        },
    ).json()
    assert rows(read_frame(verified)) == [row[:11] for row in rest]


def test_a_checksum_mismatch_is_refused_naming_the_file(archive, simulator):
    file = ArchiveFile.day("BTCUSDT", "15m", DAY)
    simulator.faults.update(archive_files={file.name: "bad_checksum"})
    with pytest.raises(
        ArchiveFileBad,
        match=r"BTCUSDT-15m-2024-02-03\.zip: sha256 \w+ does not match its \.CHECKSUM",
    ):
        archive.fetch(file)


def test_a_corrupt_zip_with_a_matching_checksum_is_refused(archive, simulator):
    file = ArchiveFile.day("BTCUSDT", "15m", DAY)
    simulator.faults.update(archive_files={"BTCUSDT-15m-2024-02-*": "corrupt"})
    with pytest.raises(ArchiveFileBad, match=r"BTCUSDT-15m-2024-02-03\.zip: not a readable zip"):
        archive.fetch(file)


def test_a_download_cut_short_is_retried_then_refused(archive, simulator):
    file = ArchiveFile.day("BTCUSDT", "15m", DAY)
    simulator.faults.update(archive_files={file.name: "truncated"})
    with pytest.raises(
        ArchiveFileBad, match=r"2024-02-03\.zip: download failed 3 times: download cut short"
    ):
        archive.fetch(file)
    assert archive.stats["files"] == 0


def test_a_download_slower_than_its_deadline_is_refused(simulator):
    simulator.faults.update(archive_bytes_per_s=2000)  # a 1m day is about 70 kB
    with (
        BinanceArchiveClient(simulator.url, download_timeout_s=0.3, max_retries=0) as client,
        pytest.raises(ArchiveFileBad, match=r"not complete after 0\.3 s"),
    ):
        client.fetch(ArchiveFile.day("BTCUSDT", "1m", DAY))


def test_a_missing_file_is_a_404(archive, simulator):
    simulator.faults.update(archive_files={"*-2024-02-03.zip": "missing"})
    with pytest.raises(
        ArchiveFileMissing,
        match=r"BTCUSDT-1m-2024-02-03\.zip\.CHECKSUM: not published \(HTTP 404\)",
    ):
        archive.fetch(ArchiveFile.day("BTCUSDT", "1m", DAY))
    with pytest.raises(ArchiveFileMissing):  # before the listing (2017-08-17) there is no file
        archive.fetch(ArchiveFile.day("BTCUSDT", "1m", date(2017, 8, 1)))


def test_files_are_published_after_their_period(archive, simulator):
    simulator.clock.freeze(
        ArchiveFile.day("BTCUSDT", "1m", DAY).end_ms + 3_600_000
    )  # 01:00 the next day
    with pytest.raises(ArchiveFileMissing):
        archive.fetch(
            ArchiveFile.day("BTCUSDT", "1m", DAY)
        )  # daily files appear 6 h after their day
    archive.fetch(ArchiveFile.day("BTCUSDT", "1m", date(2024, 2, 2)))
    with pytest.raises(ArchiveFileMissing):
        archive.fetch(ArchiveFile.month("BTCUSDT", "1m", 2024, 2))  # the month is not over


def test_an_unreachable_host_is_named():
    with (
        BinanceArchiveClient("http://127.0.0.1:9") as client,
        pytest.raises(ArchiveUnreachable, match=r"archive host 127\.0\.0\.1:9 is unreachable"),
    ):
        client.fetch(ArchiveFile.day("BTCUSDT", "1m", DAY))


@pytest.mark.parametrize(
    "csv, problem",
    [
        (b"1706918400000,1,1,1,1,1,1706918459999,1,7,1,1\n", "not 12-column kline rows"),
        (
            b"1706918400000,1,1,1,1,1,1706918459999,1,7,1,1,0\n1706918460000,1,1,1,1,1,1706918519999,1,7,1,1\n",
            "not 12-column kline rows",
        ),
        (b"1706918400000,1,1,1,1,1,1706918459999,1,7,1,1,0,0\n", "not 12-column kline rows"),
        (b"1706918400000,1,1,1,1,1,1706918459999,1,seven,1,1,0\n", "not an integer"),
        (
            b"1706918460000,1,1,1,1,1,1706918519999,1,7,1,1,0\n1706918400000,1,1,1,1,1,1706918459999,1,7,1,1,0\n",
            "out of order",
        ),
        (b"1707004800000,1,1,1,1,1,1707004859999,1,7,1,1,0\n", "outside 2024-02-03"),
    ],
)
def test_rows_that_are_not_klines_refuse_the_whole_file(csv, problem):
    with pytest.raises(ArchiveFileBad, match=problem):
        read_frame(VerifiedFile(ArchiveFile.day("BTCUSDT", "1m", DAY), "x", 0, csv))


def test_checksum_and_zip_layout_are_binance_s(archive, simulator):
    file = ArchiveFile.month("BTCUSDT", "1m", 2024, 1)
    checksum = httpx.get(f"{simulator.url}{file.path}.CHECKSUM").text
    body = httpx.get(f"{simulator.url}{file.path}").content
    assert checksum == f"{hashlib.sha256(body).hexdigest()}  BTCUSDT-1m-2024-01.zip\n"
    assert zipfile.ZipFile(io.BytesIO(body)).namelist() == ["BTCUSDT-1m-2024-01.csv"]
    assert file.path == "/data/spot/monthly/klines/BTCUSDT/1m/BTCUSDT-1m-2024-01.zip"
    assert len(read_frame(archive.fetch(file))) == 31 * 1440

"""Command-line arguments read the way the config is: one line naming the flag and the problem.

``Parser`` is argparse's parser with one change: a bad argument prints a single line
(``crypto backfill: error: flag --start: 2024-02-30 is not a date: February 2024 has 29 days ...``)
and exits 2, instead of the usage block. The ``*_flag`` functions are argparse ``type=`` readers.
"""

from __future__ import annotations

import argparse
import sys

from crypto_assets.inputs import InputError, parse_day, parse_port, positive_number


class Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line, with flags called flags."""

    commands: dict[str, Parser]  # the top-level parser's command parsers, by name

    def error(self, message: str):
        if message.startswith("argument -"):
            message = "flag " + message[len("argument ") :]
        print(f"{self.prog}: error: {message} (see {self.prog} --help)", file=sys.stderr)
        raise SystemExit(2)


def _flag_type(read):
    def convert(text: str):
        try:
            return read(text)
        except InputError as err:
            raise argparse.ArgumentTypeError(str(err)) from None

    return convert


day_flag = _flag_type(parse_day)
"""``--start 2024-01-31``: a UTC day."""

port_flag = _flag_type(parse_port)
"""``--dashboard-port 8502``: a TCP port."""

listen_port_flag = _flag_type(lambda text: parse_port(text, any_free=True))
"""``--port 0``: a TCP port, or 0 for any free one."""


def _positive_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise InputError(f"{text!r} is not a number of seconds") from None
    return positive_number(value)


def _positive_count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise InputError(f"{text!r} is not a whole number") from None
    return positive_number(value, whole=True)


def _count_or_zero(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise InputError(f"{text!r} is not a whole number") from None
    if value < 0:
        raise InputError(f"{value} is negative (the smallest valid value is 0)")
    return value


seconds_flag = _flag_type(_positive_seconds)
"""``--max-age 60``: a number of seconds above 0."""

count_flag = _flag_type(_positive_count)
"""``--weight-limit 6000``: a whole number above 0."""

count_or_zero_flag = _flag_type(_count_or_zero)
"""``--extra-symbols 0``: a whole number, 0 or more."""

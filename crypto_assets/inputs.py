"""Values people type (days, ports, URLs, names), read with errors that say what is wrong.

The config file, the environment and the command line share these readers; each caller puts
its own place in front of the message ("config key 'history_start'", "flag --start",
"environment variable BINANCE_API_URL"), so one bad value gives one line that names both the
place and the problem, with the nearest valid value where there is one.
"""

from __future__ import annotations

import calendar
import difflib
import math
import re
from collections.abc import Iterable
from datetime import date
from typing import Literal, overload
from urllib.parse import urlsplit

_DAY = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")
_DATETIME = re.compile(r"^(\d{4}-\d{2}-\d{2})[T ]\d{1,2}:\d{2}")


class InputError(ValueError):
    """A value that cannot be used; the message says why, the caller says where it came from."""


def closest(value: str, known: Iterable[str], *, cutoff: float = 0.6) -> str:
    """' (did you mean 'X'?)' for the known name nearest ``value``, or '' when none is near
    (``cutoff``: the least similarity, 0 to 1; symbols need more, NOPEUSDT is not DOGEUSDT)."""
    match = difflib.get_close_matches(value, list(known), n=1, cutoff=cutoff)
    return f" (did you mean {match[0]!r}?)" if match else ""


def parse_day(value: object) -> date:
    """A UTC day from ``YYYY-MM-DD``; an impossible day names the month's length and the nearest day."""
    if isinstance(value, date):
        return value
    text = str(value).strip()
    if match := _DATETIME.match(text):
        raise InputError(
            f"{text!r} is a date and time; give the day alone, like {match.group(1)} (days are whole UTC days)"
        )
    match = _DAY.match(text)
    if not match:
        raise InputError(f"{text!r} is not a date like 2024-01-31 (YYYY-MM-DD)")
    year, month, day = (int(part) for part in match.groups())
    if not 1 <= month <= 12:
        raise InputError(f"{text} is not a date: there is no month {month} (months are 01 to 12)")
    if year < 1:
        raise InputError(f"{text} is not a date: there is no year 0")
    length = calendar.monthrange(year, month)[1]
    if not 1 <= day <= length:
        nearest = date(year, month, min(max(day, 1), length))
        raise InputError(
            f"{text} is not a date: {calendar.month_name[month]} {year} has {length} days"
            f" (the nearest valid day is {nearest})"
        )
    return date(year, month, day)


@overload
def positive_number(
    value: object, *, whole: Literal[True], ceiling: float | None = None
) -> int: ...
@overload
def positive_number(
    value: object, *, whole: bool = False, ceiling: float | None = None
) -> int | float: ...
def positive_number(
    value: object, *, whole: bool = False, ceiling: float | None = None
) -> int | float:
    """``value`` as an int (``whole``) or float, finite and > 0 (and <= ``ceiling``)."""
    kind = "whole number" if whole else "number"
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or (whole and not isinstance(value, int))
    ):
        raise InputError(f"{value!r} is not a {kind}")
    if not math.isfinite(value):
        raise InputError(f"{value!r} is not a finite {kind}")
    if value <= 0:
        lowest = "1" if whole else "a number above 0"
        raise InputError(f"{value!r} must be greater than 0 (the smallest valid value is {lowest})")
    if ceiling is not None and value > ceiling:
        raise InputError(f"{value!r} is above {ceiling:g}, the largest valid value")
    return int(value) if whole else float(value)


def parse_port(text: object, *, any_free: bool = False) -> int:
    """A TCP port number, 1 to 65535 (or 0, "any free port", when ``any_free``)."""
    valid = f"{0 if any_free else 1} to 65535"
    try:
        port = int(str(text).strip())
    except ValueError:
        raise InputError(f"{text!r} is not a port number ({valid})") from None
    if not (0 if any_free else 1) <= port <= 65535:
        raise InputError(f"{port} is not a port number ({valid})")
    return port


def check_url(value: str, schemes: tuple[str, ...], *, needs_host: bool = True) -> str:
    """``value`` when it is a URL with one of ``schemes`` (a host and a valid port when ``needs_host``).

    Messages show the URL without its password (``***``).
    """
    from crypto_assets.warehouse.db import redact

    shown = redact(value)
    expected = " or ".join(f"{scheme}://" for scheme in schemes)
    if "://" not in value:
        raise InputError(
            f"{shown!r} is not a URL: it needs a scheme ({expected}), as in {schemes[0]}://host"
        )
    parts = urlsplit(value)
    if parts.scheme not in schemes:
        hint = closest(parts.scheme, schemes)
        raise InputError(f"{shown!r} has the scheme {parts.scheme}://; expected {expected}{hint}")
    if any(ch.isspace() for ch in value):
        raise InputError(f"{shown!r} contains a space")
    try:
        port = parts.port
    except ValueError:
        raise InputError(f"{shown!r} has an invalid port (ports are 1 to 65535)") from None
    if port == 0:
        raise InputError(f"{shown!r} has an invalid port (ports are 1 to 65535)")
    if needs_host and not parts.hostname:
        raise InputError(f"{shown!r} has no host name")
    return value

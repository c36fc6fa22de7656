"""Messages in place of data: the database unreachable, a table still empty, nothing in range.

Every page goes through ``load`` for its data, so a failure ends the page with one clear
message instead of a traceback.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import TypeVar

import streamlit as st

from ui.data import DataUnavailable

T = TypeVar("T")


def load(read: Callable[..., T], *args) -> T:
    """``read(*args)``, or the reason it failed shown on the page (which then stops)."""
    try:
        return read(*args)
    except DataUnavailable as err:
        st.error(str(err), icon=":material/cloud_off:")
    except ValueError as err:  # a selection the queries refuse, named in the message
        st.warning(f"This selection cannot be shown: {err}.", icon=":material/block:")
    st.stop()


def empty(what: str, commands: list[str]) -> None:
    """A friendly empty state: what is missing and the commands that fill it."""
    with st.container(border=True):
        st.markdown(f":material/inbox: **{what}**")
        st.caption("Fill it with:")
        st.code("\n".join(commands), language="bash")


def backfill(asset: str, symbol: str | None, start: date, end: date) -> str:
    """The ``crypto backfill`` command that fills ``asset`` (for ``symbol``) over the UTC days
    ``start``..``end``: the range the page shows, so the hint fills what is missing there."""
    symbols = f" --symbols {symbol}" if symbol else ""
    return f"crypto backfill {asset} --start {start.isoformat()} --end {end.isoformat()}{symbols}"


def today() -> date:
    """Today, UTC (the end of a page's default range)."""
    return datetime.now(UTC).date()

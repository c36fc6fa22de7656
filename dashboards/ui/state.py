"""A page's selections, kept in the URL query string so a view can be shared as a link.

On a page's first run in a session each widget starts from its URL parameter; a value the page
cannot use (an unknown symbol, a malformed date) is replaced by the default and reported with a
message naming the parameter and the value. After the widgets, ``publish()`` writes the
current selections back to the URL.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date
from typing import TypeVar

import streamlit as st

T = TypeVar("T")


class UrlState:
    """The selections of one page (``page`` prefixes the widget keys)."""

    def __init__(self, page: str):
        self.page = page
        self.problems: list[str] = []
        self._published: dict[str, str] = {}

    def _key(self, param: str) -> str:
        return f"{self.page}.{param}"

    def _start(self, param: str, parse: Callable[[str], T], default: T) -> str:
        """Seed the widget state of ``param`` from the URL once; return its widget key."""
        key = self._key(param)
        if key not in st.session_state:
            raw = st.query_params.get(param)
            value = default
            if raw is not None:
                try:
                    value = parse(raw)
                except ValueError as err:
                    self.problems.append(f"The link's `{param}={raw}` was ignored: {err}.")
            st.session_state[key] = value
        return key

    def select(
        self,
        param: str,
        label: str,
        options: Sequence[T],
        default: T,
        *,
        fmt: Callable[[T], str] = str,
        radio: bool = False,
        **widget,
    ) -> T:
        """One of ``options`` (a select box, or a horizontal radio), named in the URL by ``fmt``."""
        by_name = {fmt(o): o for o in options}

        def parse(raw: str) -> T:
            if raw not in by_name:
                known = ", ".join(by_name) or "none"
                raise ValueError(f"{raw!r} is not one of {known}")
            return by_name[raw]

        key = self._start(param, parse, default)
        if st.session_state[key] not in options:
            st.session_state[key] = default
        if radio:
            value = st.radio(label, options, key=key, format_func=fmt, horizontal=True, **widget)
        else:
            value = st.selectbox(label, options, key=key, format_func=fmt, **widget)
        self._published[param] = fmt(value)
        return value

    def multiselect(
        self,
        param: str,
        label: str,
        options: Sequence[T],
        default: Sequence[T],
        *,
        fmt: Callable[[T], str] = str,
        **widget,
    ) -> list[T]:
        """Several of ``options``, comma-separated in the URL."""
        by_name = {fmt(o): o for o in options}

        def parse(raw: str) -> list[T]:
            names = [n for n in raw.split(",") if n]
            unknown = [n for n in names if n not in by_name]
            if unknown:
                raise ValueError(f"{unknown[0]!r} is not one of {', '.join(by_name) or 'none'}")
            return [by_name[n] for n in names]

        key = self._start(param, parse, list(default))
        st.session_state[key] = [v for v in st.session_state[key] if v in options]
        values = st.multiselect(label, options, key=key, format_func=fmt, **widget)
        self._published[param] = ",".join(fmt(v) for v in values)
        return values

    def toggle(self, param: str, label: str, default: bool) -> bool:
        """On or off, ``1``/``0`` in the URL."""

        def parse(raw: str) -> bool:
            if raw not in ("0", "1"):
                raise ValueError("expected 1 or 0")
            return raw == "1"

        value = st.toggle(label, key=self._start(param, parse, default))
        self._published[param] = "1" if value else "0"
        return value

    def date_range(self, label: str, default: tuple[date, date]) -> tuple[date, date]:
        """Inclusive UTC days, ``start`` and ``end`` (YYYY-MM-DD) in the URL."""
        key = self._key("range")
        initial = f"{key}.initial"  # the widget needs its range as ``value``, fixed for the session
        if initial not in st.session_state:
            st.session_state[initial] = self._range_from_url(default)
        picked = st.date_input(label, value=st.session_state[initial], key=key, format="YYYY-MM-DD")
        start, end = (picked[0], picked[-1]) if picked else default
        self._published.update(start=start.isoformat(), end=end.isoformat())
        return start, end

    def _range_from_url(self, default: tuple[date, date]) -> tuple[date, date]:
        start, end = default
        for param in ("start", "end"):
            raw = st.query_params.get(param)
            if raw is None:
                continue
            try:
                day = date.fromisoformat(raw)
            except ValueError:
                self.problems.append(
                    f"The link's `{param}={raw}` was ignored: it is not a date like 2024-01-31."
                )
                continue
            start, end = (day, end) if param == "start" else (start, day)
        if end < start:
            self.problems.append(
                f"The link's range ends ({end}) before it starts ({start}); the two were swapped."
            )
            start, end = end, start
        return start, end

    def report(self) -> None:
        """Show what was wrong with the link, once."""
        for problem in self.problems:
            st.warning(problem, icon=":material/link_off:")
        self.problems.clear()

    def publish(self) -> None:
        """Write the current selections into the URL (only this page's parameters)."""
        if dict(st.query_params) != self._published:
            st.query_params.from_dict(self._published)

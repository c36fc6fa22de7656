"""Dagster metadata entries read in tests, each checked to be of the kind the code records."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import dagster as dg


def json_entry(metadata: Mapping[str, dg.MetadataValue], key: str) -> Any:
    """The value of a JSON entry (examples, gaps, lists of symbols)."""
    entry = metadata[key]
    assert isinstance(entry, dg.JsonMetadataValue), f"{key!r} is {type(entry).__name__}, not JSON"
    return entry.value


def int_entry(metadata: Mapping[str, dg.MetadataValue], key: str) -> int:
    """The value of an integer entry (counts, rows)."""
    entry = metadata[key]
    assert isinstance(entry, dg.IntMetadataValue) and entry.value is not None, (
        f"{key!r} is {entry!r}, not an integer"
    )
    return entry.value

"""What the API needs to run: where to read, what to offer, and its limits."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from crypto_assets.settings import Settings, window_seconds
from crypto_assets.warehouse.queries.export import BATCH_ROWS


@dataclass(frozen=True)
class ApiConfig:
    """``symbols`` and ``widths`` (label -> window width of ``price_downsampled``) come from the
    platform's config; ``tokens``, when any, are required as ``Authorization: Bearer``."""

    database_url: str
    symbols: tuple[str, ...]
    widths: dict[str, timedelta]
    tokens: tuple[str, ...] = field(default=(), repr=False)
    statement_timeout_s: float = 15.0
    pool_size: int = 8
    pool_wait_s: float = 5.0
    batch_rows: int = BATCH_ROWS
    live_poll_s: float = 0.5
    live_keepalive_s: float = 15.0

    @classmethod
    def from_settings(cls, settings: Settings, database_url: str, **overrides) -> ApiConfig:
        widths = {
            label: timedelta(seconds=window_seconds(label)) for label in settings.downsample_windows
        }
        values = {
            "database_url": database_url,
            "symbols": settings.symbols,
            "widths": widths,
            "tokens": settings.api_tokens,
        }
        return cls(**(values | overrides))

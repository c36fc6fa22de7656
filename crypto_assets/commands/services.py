"""The long-running services of the platform, as ``crypto up`` starts them."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

SIMULATOR_PORT = 9100
DASHBOARD_PORT = 8501
DASHBOARD_APP = Path(__file__).resolve().parents[2] / "dashboards" / "app.py"


@dataclass(frozen=True)
class Service:
    """A process ``crypto up`` supervises; ``exports`` are set for every later service too."""

    name: str
    argv: list[str]
    description: str
    env: dict[str, str] = field(default_factory=dict)
    exports: dict[str, str] = field(default_factory=dict)
    cwd: str | None = None  # working directory (None: crypto up's own)


def _crypto(*args: str) -> list[str]:
    return [sys.executable, "-m", "crypto_assets.cli", *args]


def dashboard_service(*, dagster_port: int, database_url: str | None = None) -> Service:
    """The Streamlit dashboard; ``database_url`` (the read-only role's URL, when the platform
    created one) becomes its ``DATABASE_URL``, else it inherits the platform's."""
    env = {"DAGSTER_UI_URL": os.environ.get("DAGSTER_UI_URL") or f"http://localhost:{dagster_port}"}
    if database_url:
        env["DATABASE_URL"] = database_url
    return Service(
        name="dashboard",
        argv=[sys.executable, "-m", "streamlit", "run", str(DASHBOARD_APP), "--server.headless", "true",
              "--server.port", str(DASHBOARD_PORT)],
        description=f"Streamlit dashboard on http://localhost:{DASHBOARD_PORT}",
        env=env,
    )


def platform_services(
    *, demo: bool, dagster_port: int, dashboard_database_url: str | None = None, dagster_home: str | None = None
) -> list[Service]:
    """Services in start order; with ``demo`` the simulator stands in for Binance.

    Dagster runs inside ``dagster_home``: started next to the project's own ``dagster.yaml`` (the
    template copied into ``DAGSTER_HOME``), ``dagster dev`` would warn that it ignores that file.
    """
    services: list[Service] = []
    if demo:
        services.append(
            Service(
                name="simulator",
                argv=_crypto("simulator", "--port", str(SIMULATOR_PORT)),
                description=f"Binance simulator on http://127.0.0.1:{SIMULATOR_PORT} (streams on ws://, archive under /data/)",
                exports={
                    "BINANCE_API_URL": f"http://127.0.0.1:{SIMULATOR_PORT}",
                    "BINANCE_WS_URL": f"ws://127.0.0.1:{SIMULATOR_PORT}",
                    "BINANCE_ARCHIVE_URL": f"http://127.0.0.1:{SIMULATOR_PORT}",
                },
            )
        )
    services.append(
        Service(
            name="dagster",
            argv=[sys.executable, "-m", "dagster", "dev", "-m", "crypto_assets.definitions", "-p", str(dagster_port)],
            description=f"Dagster webserver and daemon on http://localhost:{dagster_port}",
            cwd=dagster_home,
        )
    )
    services.append(
        Service(
            name="stream",
            argv=_crypto("stream"),
            description="stream collector (kline_1m -> candles_1m, price_samples; heartbeat in stream_heartbeats)",
        )
    )
    services.append(dashboard_service(dagster_port=dagster_port, database_url=dashboard_database_url))
    return services


"""The long-running services of the platform, as ``crypto up`` starts them.

Each service names the line it prints once it is serving (``ready``): ``crypto up`` shows that
line on the terminal and sends everything else the service prints to its log file under the
data directory. Dagster runs as its two supervised processes, the webserver and the daemon
(``dagster dev`` is superseded and warns so); the ``runs`` service prints one line per run.
"""

from __future__ import annotations

import os
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path

SIMULATOR_PORT = 9100
DASHBOARD_PORT = 8501
API_PORT = 8000
DAGSTER_PORT = 3000
PROJECT_ROOT = Path(__file__).resolve().parents[2]
DASHBOARD_APP = PROJECT_ROOT / "dashboards" / "app.py"
WORKSPACE = PROJECT_ROOT / "workspace.yaml"


@dataclass(frozen=True)
class Service:
    """A process ``crypto up`` supervises; ``exports`` are set for every later service too.

    ``ready`` is a regular expression matching the service's own start line (shown on the
    terminal); ``echo`` one matching the other lines to show there (None: none, they go to its
    log file only).
    """

    name: str
    argv: list[str]
    description: str
    ready: str
    echo: str | None = None
    env: dict[str, str] = field(default_factory=dict)
    exports: dict[str, str] = field(default_factory=dict)
    cwd: str | None = None  # working directory (None: crypto up's own)


def _crypto(*args: str) -> list[str]:
    return [sys.executable, "-m", "crypto_assets.cli", *args]


def _script(name: str) -> str:
    """A console script installed beside this Python (``dagster-daemon``), else the one on PATH."""
    beside = Path(sys.executable).with_name(name)
    return str(beside) if beside.exists() else shutil.which(name) or name


def dashboard_service(
    *, dagster_port: int, port: int = DASHBOARD_PORT, database_url: str | None = None
) -> Service:
    """The Streamlit dashboard on ``port``; ``database_url`` (the read-only role's URL, when the
    platform created one) becomes its ``DATABASE_URL``, else it inherits the platform's."""
    env = {"DAGSTER_UI_URL": os.environ.get("DAGSTER_UI_URL") or f"http://localhost:{dagster_port}"}
    if database_url:
        env["DATABASE_URL"] = database_url
    return Service(
        name="dashboard",
        argv=[
            sys.executable,
            "-m",
            "streamlit",
            "run",
            str(DASHBOARD_APP),
            "--server.headless",
            "true",
            "--server.port",
            str(port),
        ],
        description=f"Streamlit dashboard on http://localhost:{port}",
        ready=r"Local URL: ",
        env=env,
    )


def api_service(*, port: int = API_PORT, database_url: str | None = None) -> Service:
    """The read-only HTTP API (``crypto api``) on ``port``; ``database_url`` (the ``crypto_api``
    role's URL, when the platform created one) becomes its ``DATABASE_URL``, else it inherits the platform's."""
    return Service(
        name="api",
        argv=_crypto("api", "--port", str(port)),
        description=f"HTTP API on http://localhost:{port} (docs on /docs)",
        ready=r"Uvicorn running on ",
        env={"DATABASE_URL": database_url} if database_url else {},
    )


def dagster_services(*, port: int, dagster_home: str | None) -> list[Service]:
    """Dagster's webserver and daemon over the project's workspace.

    Both run inside ``dagster_home``: started next to the project's own ``dagster.yaml`` (the
    template copied into ``DAGSTER_HOME``), Dagster would warn that it ignores that file.
    """
    workspace = ["-w", str(WORKSPACE)]
    return [
        Service(
            name="dagster-webserver",
            argv=[_script("dagster-webserver"), "-h", "127.0.0.1", "-p", str(port), *workspace],
            description=f"Dagster UI on http://localhost:{port}",
            ready=r"Serving dagster-webserver on ",
            cwd=dagster_home,
        ),
        Service(
            name="dagster-daemon",
            argv=[_script("dagster-daemon"), "run", *workspace],
            description="Dagster daemon (schedules, sensors, automation, run queue, run monitoring and retries)",
            ready=r"Instance is configured with the following daemons",
            cwd=dagster_home,
        ),
    ]


def platform_services(
    *,
    demo: bool,
    dagster_port: int = DAGSTER_PORT,
    dashboard_port: int = DASHBOARD_PORT,
    simulator_port: int = SIMULATOR_PORT,
    api_port: int = API_PORT,
    dashboard_database_url: str | None = None,
    dagster_home: str | None = None,
    api_database_url: str | None = None,
) -> list[Service]:
    """Services in start order (``crypto up`` stops them in reverse); with ``demo`` the
    simulator stands in for Binance."""
    services: list[Service] = []
    if demo:
        services.append(
            Service(
                name="simulator",
                argv=_crypto("simulator", "--port", str(simulator_port)),
                description=(
                    f"Binance simulator on http://127.0.0.1:{simulator_port} (streams "
                    "on ws://, archive under /data/)"
                ),
                ready=r"Binance simulator listening on ",
                exports={
                    "BINANCE_API_URL": f"http://127.0.0.1:{simulator_port}",
                    "BINANCE_WS_URL": f"ws://127.0.0.1:{simulator_port}",
                    "BINANCE_ARCHIVE_URL": f"http://127.0.0.1:{simulator_port}",
                },
            )
        )
    services.extend(dagster_services(port=dagster_port, dagster_home=dagster_home))
    services.append(
        Service(
            name="stream",
            argv=_crypto("stream"),
            description="stream collector (kline_1m -> candles_1m, price_samples; heartbeat in stream_heartbeats)",
            ready=r"streaming \d+ (of \d+ )?symbols? from ",
        )
    )
    services.append(
        dashboard_service(
            dagster_port=dagster_port, port=dashboard_port, database_url=dashboard_database_url
        )
    )
    services.append(
        Service(
            name="runs",
            argv=[sys.executable, "-m", "crypto_assets.run_feed"],
            description="one line per Dagster run on this terminal",
            ready=r"^following Dagster runs",
            echo=r"^\d\d:\d\d:\d\d ",  # its own lines, each stamped with the time
        )
    )
    services.append(api_service(port=api_port, database_url=api_database_url))
    return services

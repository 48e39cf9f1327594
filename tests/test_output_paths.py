"""Output paths never destroy data, whichever command writes.

The family of targets: the database in use (by its name, another spelling, a
symlink, a hard link) and its -wal/-shm/-journal files; any other SQLite
database or write-ahead log; a folder; devices (/dev/full, /dev/null); a pipe;
a file inside a missing folder. The writers: `report -o`, `simulate
--roster-out/--scenario-out/--ready-file`, `demo --dir`, and the daemon's
monthly reports. Each target is refused in one line (exit 1; the daemon logs
it), nothing is created, the database stays byte-for-byte the same; a missing
folder is created only when asked (`--mkdir`, `reports.mkdir`); replacing an
existing report is allowed and said.
"""

from __future__ import annotations

import logging
import os
import sqlite3
from pathlib import Path

import pytest

from monitor.cli import main
from monitor.demo import DemoError, prepare_folder
from monitor.output_paths import OutputRefused, check_output
from monitor.reports import write_monthly_report
from monitor.settings import Settings
from monitor.store import Store

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def db(tmp_path, monkeypatch, capsys) -> Path:
    for key in list(os.environ):
        if key.startswith("MONITOR_"):
            monkeypatch.delenv(key)
    path = tmp_path / "m.db"
    monkeypatch.setenv("MONITOR_DB", str(path))
    monkeypatch.chdir(tmp_path)
    assert main(["import", str(ROOT / "config" / "roster.example.csv")]) == 0
    capsys.readouterr()
    return path


def snapshot(db: Path) -> list[str]:
    with Store.open(db) as store:
        return list(store.conn.iterdump())


def refused(capsys, *args: str) -> str:
    code = main(list(args))
    out, err = capsys.readouterr()
    assert code == 1, (args, out, err)
    assert err.startswith("monitor: cannot ") and err.count("\n") == 1, err
    assert "Traceback" not in err
    return err


def database_targets(db: Path, tmp_path: Path) -> list[Path]:
    """The database in use under every name it can be reached by."""
    (tmp_path / "link.md").symlink_to(db)
    os.link(db, tmp_path / "hard.md")
    for suffix in ("-wal", "-shm", "-journal"):
        Path(f"{db}{suffix}").touch()
    return [
        db,
        tmp_path / "." / "m.db",
        tmp_path / "sub" / ".." / "m.db",
        tmp_path / "link.md",
        tmp_path / "hard.md",
        Path(f"{db}-wal"),
        Path(f"{db}-shm"),
        Path(f"{db}-journal"),
    ]


def foreign_targets(tmp_path: Path) -> list[Path]:
    """Data that is not ours to overwrite, and things that are not files."""
    other = tmp_path / "other.sqlite"
    sqlite3.connect(other).execute("CREATE TABLE t (x)").connection.close()
    wal = tmp_path / "old.db-wal"
    wal.write_bytes(b"\x37\x7f\x06\x82" + b"\0" * 28)
    fifo = tmp_path / "pipe.md"
    os.mkfifo(fifo)
    folder = tmp_path / "folder.md"
    folder.mkdir()
    targets = [other, wal, fifo, folder]
    targets += [Path(p) for p in ("/dev/full", "/dev/null") if Path(p).exists()]
    return targets


def test_report_never_writes_over_the_database_by_any_name(db, tmp_path, capsys):
    (tmp_path / "sub").mkdir()
    before = snapshot(db)
    for target in database_targets(db, tmp_path):
        err = refused(capsys, "report", "--format", "md", "-o", str(target))
        assert "the database in use" in err, err
    assert snapshot(db) == before


def test_report_never_writes_over_other_databases_folders_devices_or_pipes(db, tmp_path, capsys):
    before = snapshot(db)
    for target in foreign_targets(tmp_path):
        head = target.read_bytes()[:16] if target.is_file() else None
        err = refused(capsys, "report", "--format", "md", "-o", str(target))
        assert str(target) in err
        if head is not None:
            assert target.read_bytes()[:16] == head
    assert Path("/dev/full").is_char_device() if Path("/dev/full").exists() else True
    assert snapshot(db) == before


def test_report_into_a_missing_folder_needs_mkdir(db, tmp_path, capsys):
    target = tmp_path / "no" / "such" / "r.md"
    err = refused(capsys, "report", "-o", str(target))
    assert "no such folder" in err and "--mkdir" in err
    assert not (tmp_path / "no").exists(), "nothing is created"
    assert main(["report", "-o", str(target), "--mkdir"]) == 0
    out, err = capsys.readouterr()
    assert out.strip() == str(target) and target.read_text(encoding="utf-8").startswith("#")
    assert "replaced" not in err


def test_replacing_an_existing_report_needs_no_flag_but_is_said(db, tmp_path, capsys):
    target = tmp_path / "r.xlsx"
    target.write_bytes(b"an old report")
    assert main(["report", "-o", str(target)]) == 0
    out, err = capsys.readouterr()
    assert out.strip() == str(target)
    assert err == f"monitor: replaced the existing file {target}\n"
    assert target.read_bytes()[:2] == b"PK"


@pytest.mark.parametrize("flag", ["--roster-out", "--scenario-out", "--ready-file"])
def test_simulate_follows_the_same_rules_for_every_file_it_writes(db, tmp_path, capsys, flag):
    before = snapshot(db)
    targets = [db, *foreign_targets(tmp_path), tmp_path / "missing" / "x.out"]
    for target in targets:
        refused(capsys, "simulate", "--generate", "5", "--no-serve", flag, str(target))
    assert snapshot(db) == before and not (tmp_path / "missing").exists()
    target = tmp_path / "missing" / "x.out"
    assert main(["simulate", "--generate", "5", "--no-serve", flag, str(target), "--mkdir"]) == 0
    capsys.readouterr()
    assert target.stat().st_size > 0


def test_demo_refuses_a_folder_under_a_missing_parent_unless_asked(tmp_path, capsys):
    with pytest.raises(DemoError, match="no such folder"):
        prepare_folder(tmp_path / "a" / "b" / "demo")
    assert not (tmp_path / "a").exists()
    assert main(["demo", "--dir", str(tmp_path / "a" / "b" / "demo")]) == 1
    assert "no such folder" in capsys.readouterr().err
    prepare_folder(tmp_path / "a" / "b" / "demo", mkdir=True)
    assert (tmp_path / "a" / "b" / "demo" / ".monitor-demo").exists()


def test_the_monthly_report_follows_the_same_rules(db, tmp_path):
    with Store.open(db) as store:
        for folder in (db, tmp_path / "missing"):
            settings = Settings(reports={"folder": str(folder), "formats": ["md"]})
            with pytest.raises(OutputRefused):
                write_monthly_report(store, settings, "2020-02", folder, ["md"])
        assert not (tmp_path / "missing").exists()
        (tmp_path / "out" / "政务新媒体检查结果-2020-02.md").mkdir(
            parents=True
        )  # a folder in the way
        (tmp_path / "out" / "政务新媒体检查结果-2020-02.csv").write_text("old")
        settings = Settings(reports={"formats": ["csv", "md"]})
        with pytest.raises(OutputRefused, match=r"政务新媒体检查结果-2020-02\.md: it is a folder"):
            write_monthly_report(store, settings, "2020-02", tmp_path / "out", ["csv", "md"])
        assert (tmp_path / "out" / "政务新媒体检查结果-2020-02.csv").read_text() == "old", (
            "all or nothing"
        )
        settings = Settings(reports={"mkdir": True})
        paths = write_monthly_report(store, settings, "2020-02", tmp_path / "new", ["md"])
        assert [p.name for p in paths] == ["政务新媒体检查结果-2020-02.md"]


def test_the_daemon_logs_a_refused_monthly_report_in_one_line_and_writes_nothing(
    db, tmp_path, caplog
):
    from monitor.daemon import Daemon
    from monitor.settings import SecretLookup

    folder = tmp_path / "typo" / "reports"
    settings = Settings(reports={"folder": str(folder), "formats": ["md"]})
    with Store.open(db) as store:
        daemon = Daemon(store, settings, SecretLookup())
        with caplog.at_level(logging.ERROR, logger="monitor.daemon"):
            assert daemon.monthly_report() == []
        assert store.heartbeat("job:monthly_report") is None, "it is tried again"
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and errors[0].exc_info is None
    assert "reports.mkdir" in errors[0].getMessage()
    assert not (tmp_path / "typo").exists()


def test_check_output_names_what_a_target_would_replace(tmp_path):
    assert check_output(tmp_path / "new.md") is False
    (tmp_path / "old.md").write_text("x")
    assert check_output(tmp_path / "old.md") is True
    with pytest.raises(OutputRefused, match=r"(?i)not a directory"):
        check_output(tmp_path / "old.md" / "x.md")

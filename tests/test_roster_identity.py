"""Account identity: names and ids that differ only by width or invisible characters are one account.

The family: full-width letters and digits (ｘ, １２３), zero-width spaces and
joiners, the BOM and word joiner, soft hyphens and direction marks (every
Unicode format character), ideographic and no-break spaces around a name. They
are one identity in a roster file, across imports, in lookups, and in a database
written before the rule (migration 0009); the roster's own spelling is what is
displayed.
"""

from __future__ import annotations

import json

import pytest

from monitor.cli import main
from monitor.models import Platform, identity_text
from monitor.roster import identity_key, read_roster
from monitor.roster.read import clean
from monitor.store import MIGRATIONS, Store

SPELLINGS = [
    ("安康发布", "安康发布"),
    ("ｘ台", "x台"),  # full-width letter
    ("统计１２３", "统计123"),  # full-width digits
    ("安康\u200b发布", "安康发布"),  # zero-width space
    ("安康\u200c\u200d发布", "安康发布"),  # zero-width (non-)joiner
    ("\ufeff安康发布\u2060", "安康发布"),  # BOM, word joiner
    ("安康\u00ad发布", "安康发布"),  # soft hyphen
    ("\u200e安康发布\u200f", "安康发布"),  # direction marks
    ("\u3000安康发布\xa0", "安康发布"),  # ideographic and no-break spaces around
    ("ＡＢＣ\u3000公安", "ABC 公安"),  # a space inside stays one space
]


@pytest.mark.parametrize(("spelling", "text"), SPELLINGS)
def test_every_spelling_has_the_identity_text_of_its_plain_form(spelling, text):
    assert identity_text(spelling) == text
    assert identity_key(Platform.WEIBO, "", spelling) == f"weibo:name:{text}"
    assert identity_key(Platform.WEIBO, spelling, "whatever") == f"weibo:id:{text}"


@pytest.fixture
def db(tmp_path, monkeypatch):
    path = tmp_path / "m.db"
    monkeypatch.setenv("MONITOR_DB", str(path))
    return path


def roster(tmp_path, *names: str, account_id: str = "") -> str:
    path = tmp_path / "r.csv"
    lines = ["类别,主办单位,平台,账号名称,账号ID,状态"]
    lines += [f"市直部门,市统计局,微博,{name},{account_id},运行" for name in names]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return str(path)


def cli(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return code, out, err


@pytest.mark.parametrize("spelling", [s for s, t in SPELLINGS if s != t])
def test_two_spellings_in_one_file_are_one_account_reported_as_a_conflict(tmp_path, spelling):
    plain = identity_text(spelling)
    result = read_roster(roster(tmp_path, plain, spelling))
    assert len(result.entries) == 1
    assert [p.row for p in result.problems] == [3]
    message = result.problems[0].message
    # Marks around a cell are gone when it is read: then the rows are plain duplicates.
    expected = "duplicate account" if clean(spelling) == plain else "conflicting rows 2 and 3"
    assert expected in message


@pytest.mark.parametrize("spelling", [s for s, t in SPELLINGS if s != t])
def test_reimporting_another_spelling_updates_the_account_and_shows_the_new_one(
    db, tmp_path, capsys, spelling
):
    plain = identity_text(spelling)
    assert cli(capsys, "import", roster(tmp_path, plain))[0] == 0
    code, out, _ = cli(capsys, "import", roster(tmp_path, spelling), "--json")
    accounts = json.loads(out)["accounts"]
    assert code == 0 and accounts["added"] == 0
    assert accounts["updated"] == (0 if clean(spelling) == plain else 1)
    code, out, _ = cli(capsys, "accounts", "--json")
    assert [a["name"] for a in json.loads(out)] == [clean(spelling)]


def test_an_account_id_spelled_in_full_width_is_the_same_account(db, tmp_path, capsys):
    assert cli(capsys, "import", roster(tmp_path, "统计", account_id="123"))[0] == 0
    code, out, _ = cli(capsys, "import", roster(tmp_path, "统计", account_id="１２３"), "--json")
    assert code == 0 and json.loads(out)["accounts"]["added"] == 0


@pytest.mark.parametrize("query", ["ｘ台", "x\u200b台", "weibo:ｘ台", "weibo:\ufeffx台", " x台 "])
def test_lookups_find_the_account_by_any_spelling(db, tmp_path, capsys, query):
    assert cli(capsys, "import", roster(tmp_path, "x台"))[0] == 0
    code, out, err = cli(capsys, "status", "--json", query)
    assert code == 0, err
    assert [r["name"] for r in json.loads(out)] == ["x台"]


def test_a_database_from_before_the_rule_gets_normalised_identities(tmp_path):
    path = tmp_path / "old.db"
    old = Store.open(path, migrate=False)
    old.migrate(upto="0008_source_state_key")
    now = "2020-01-01T00:00:00.000000+00:00"
    rows = [
        (1, "weibo:name:ｘ台", "weibo", ""),
        (2, "weibo:id:１２３", "weibo", "１２３"),
        (3, "wechat:name:安康\u200b发布", "wechat", ""),
        (4, "wechat:name:安康发布", "wechat", ""),  # collides with 3 once normalised
        (5, "feed:name:a:b", "feed", ""),  # a colon inside the name
    ]
    old.conn.execute("INSERT INTO units (id, name, created_at) VALUES (1, '局', ?)", (now,))
    for pk, identity, platform, account_id in rows:
        old.conn.execute(
            "INSERT INTO accounts (id, identity, platform, account_id, roster_order, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (pk, identity, platform, account_id, pk, now),
        )
    old.close()
    with Store.open(path) as store:
        assert store.applied_migrations() == [name for name, _ in MIGRATIONS]
        identities = dict(store.conn.execute("SELECT id, identity FROM accounts"))
    assert identities[1] == "weibo:name:x台"
    assert identities[2] == "weibo:id:123"
    assert identities[5] == "feed:name:a:b"
    # Two accounts that now collide keep distinct identities (nothing is merged silently).
    assert sorted([identities[3], identities[4]]) == sorted(
        ["wechat:name:安康\u200b发布", "wechat:name:安康发布"]
    )

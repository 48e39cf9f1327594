"""Stored current verdicts equal verdicts judged afresh from the evidence, whatever happens.

A property test drives a real SQLite file through random sequences of checks (every
outcome), manual observations, roster changes (some taking effect later) and days
passing, through the check library as every caller uses it. After each step the
verdicts read for today (stored rows, stale ones judged on the fly) equal
`verdicts_at`, and every account a step wrote holds a row that is current.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from monitor.checks.record import Seen, reclassify, record, record_manual
from monitor.checks.verdicts import CurrentVerdicts, policy_key, verdicts_at
from monitor.models import Observation, Outcome
from monitor.roster import read_roster
from monitor.roster.apply import apply_plan, plan_import
from monitor.settings import Settings
from monitor.store import Store, VerdictQuery

START = datetime(2024, 3, 1, 2, 0, tzinfo=UTC)
ACCOUNTS = 4
STATUSES = ["运行", "停运", "已注销"]
SETTINGS = Settings(
    policy={"zombie_after": "14d", "suspended_after": "28d", "warn_before": "3d"},
    schedule={"jitter_s": 0},
)


def write_roster(path: Path, statuses: list[str]) -> None:
    rows = ["类别,主办单位,平台,账号名称,账号ID,状态"]
    rows += [f"市直部门,单位{i},微博,账号{i},{1000 + i},{s}" for i, s in enumerate(statuses)]
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")


def import_roster(store: Store, path: Path, now: datetime, effective: datetime | None) -> None:
    roster = read_roster(path)
    assert roster.problems == []
    plan = plan_import(store, roster.entries)
    apply_plan(
        store, plan, file=str(path), form=roster.form, now=now, effective_at=effective,
        settings=SETTINGS,
    )  # fmt: skip


OUTCOMES = [
    Outcome.OK,
    Outcome.NO_CONTENT,
    Outcome.NOT_FOUND,
    Outcome.RESTRICTED,
    Outcome.TRANSIENT,
    Outcome.RATE_LIMITED,
    Outcome.REFUSED,
]
account = st.integers(0, ACCOUNTS - 1)
step = st.one_of(
    st.tuples(st.just("check"), account, st.sampled_from(OUTCOMES), st.integers(0, 60)),
    st.tuples(st.just("manual"), account, st.integers(0, 60)),
    st.tuples(st.just("roster"), account, st.sampled_from(STATUSES), st.integers(0, 5)),
    st.tuples(st.just("days"), st.integers(1, 20)),
    st.tuples(st.just("hours"), st.integers(1, 30)),
    st.tuples(st.just("reclassify")),
)


def judged_now(store: Store, now: datetime) -> dict[int, tuple[str, bool]]:
    """Each account's state judged afresh, and whether it has a roster problem (名单问题)."""
    day = now.astimezone(SETTINGS.tz).date()
    return {
        i.account.id: (i.verdict.state.value, bool(i.findings()))
        for i in verdicts_at(store, day, SETTINGS.policy, SETTINGS.tz, include_retired=True)
    }


def states_of(judged: dict[int, tuple[str, bool]]) -> dict[int, str]:
    return {k: v[0] for k, v in judged.items()}


def read_now(store: Store, now: datetime) -> dict[int, tuple[str, bool]]:
    """Today's states (and roster problems) as the API and dashboard read them: stored
    rows that hold, stale ones judged; lists and counts agree."""
    day = now.astimezone(SETTINGS.tz).date()
    current = CurrentVerdicts(store, SETTINGS)
    ids = current.page(day, VerdictQuery(include_retired=True), limit=None).ids
    out = {}
    for state in ("active", "warning", "zombie", "suspended", "cancelled", "unknown"):
        q = VerdictQuery(include_retired=True, states=frozenset({state}))
        for account_id in current.page(day, q, limit=None).ids:
            out[account_id] = state
    assert sorted(out) == sorted(ids)
    everyone = VerdictQuery(include_retired=True)
    flagged = set(current.page(day, replace(everyone, with_findings=True), limit=None).ids)
    read = {i: (state, i in flagged) for i, state in out.items()}
    attention = frozenset({"zombie", "unknown"})
    assert set(current.page(day, replace(everyone, attention=attention), limit=None).ids) == {
        i for i, (state, problem) in read.items() if state in attention or problem
    }
    assert current.counts(day, everyone, by="state,roster") == Counter(read.values())
    return read


def holding(store: Store, now: datetime) -> dict[int, str]:
    """Only the stored rows that hold today."""
    day = now.astimezone(SETTINGS.tz).date()
    rows = store.current_verdicts(
        day, policy_key(SETTINGS.policy), VerdictQuery(include_retired=True)
    )
    return {r[0]: r[2] for r in rows}


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(steps=st.lists(step, min_size=1, max_size=25))
def test_stored_verdicts_equal_verdicts_judged_afresh(tmp_path_factory, steps):
    folder = tmp_path_factory.mktemp("cv")
    roster = folder / "roster.csv"
    statuses = ["运行"] * ACCOUNTS
    write_roster(roster, statuses)
    now = START
    with Store.open(folder / "m.db") as store:
        import_roster(store, roster, now, START - timedelta(days=400))
        ids = sorted(v.id for v in store.accounts_at(now))
        assert holding(store, now) == states_of(judged_now(store, now))  # the import judged all
        for op in steps:
            wrote: list[int] = []
            if op[0] == "check":
                _, i, outcome, days_ago = op
                view = store.accounts_at(now, ids=[ids[i]], include_retired=True)[0]
                post = now - timedelta(days=days_ago) if outcome is Outcome.OK else None
                obs = Observation(ids[i], now, "weibo", outcome, latest_post_at=post)
                record(store, SETTINGS, [Seen(view, "weibo", obs)], now=now)
                wrote = [ids[i]]
            elif op[0] == "manual":
                _, i, days_ago = op
                obs = Observation(
                    ids[i], now, "manual", Outcome.OK, latest_post_at=now - timedelta(days=days_ago)
                )
                record_manual(store, SETTINGS, obs, now=now)
                wrote = [ids[i]]
            elif op[0] == "roster":
                _, i, status, later = op
                changed = statuses[i] != status
                statuses[i] = status
                write_roster(roster, statuses)
                effective = now + timedelta(days=later) if later else None
                import_roster(store, roster, now, effective)
                if changed and not later:  # an import that changes nothing writes nothing
                    wrote = [ids[i]]
            elif op[0] == "days":
                now += timedelta(days=op[1])
            elif op[0] == "hours":
                now += timedelta(hours=op[1])
            else:
                reclassify(store, SETTINGS, now)
                wrote = ids
            expected = judged_now(store, now)
            assert read_now(store, now) == expected, op
            rows = holding(store, now)
            for account_id in wrote:
                assert rows.get(account_id) == expected[account_id][0], (op, account_id)
        # However far time has run, the daily job leaves no row stale.
        reclassify(store, SETTINGS, now)
        day = now.astimezone(SETTINGS.tz).date()
        assert store.stale_verdicts(day, policy_key(SETTINGS.policy)) == []
        assert holding(store, now) == states_of(judged_now(store, now))


def test_a_row_judged_under_another_policy_is_not_used(tmp_path):
    roster = tmp_path / "roster.csv"
    write_roster(roster, ["运行"] * ACCOUNTS)
    with Store.open(tmp_path / "m.db") as store:
        import_roster(store, roster, START, START - timedelta(days=10))
        view = store.accounts_at(START)[0]
        obs = Observation(view.id, START, "weibo", Outcome.OK, latest_post_at=START - timedelta(20))
        record(store, SETTINGS, [Seen(view, "weibo", obs)], now=START)
        day = START.astimezone(SETTINGS.tz).date()
        assert holding(store, START)[view.id] == "zombie"  # 20 days silent, 14-day window
        lenient = Settings(policy={"zombie_after": "1mo"})
        assert view.id in store.stale_verdicts(day, policy_key(lenient.policy))
        page = CurrentVerdicts(store, lenient).page(
            day, VerdictQuery(states=frozenset({"warning", "active"})), limit=None
        )
        assert view.id in page.ids  # judged afresh under the policy asked for


def test_each_change_of_state_is_one_flip_with_its_evidence(tmp_path):
    roster = tmp_path / "roster.csv"
    write_roster(roster, ["运行"] * ACCOUNTS)
    with Store.open(tmp_path / "m.db") as store:
        import_roster(store, roster, START, START - timedelta(days=10))
        view = store.accounts_at(START)[0]
        now = START
        for silent in (1, 1, 20):
            obs = Observation(
                view.id, now, "weibo", Outcome.OK, latest_post_at=now - timedelta(silent)
            )
            (report,) = record(store, SETTINGS, [Seen(view, "weibo", obs)], now=now)
            now += timedelta(hours=1)
        flips = store.flips(view.id)
        assert [(f.from_state, f.to_state) for f in reversed(flips)] == [
            (None, "unknown"),
            ("unknown", "active"),
            ("active", "zombie"),
        ]
        assert flips[0].evidence == report.observation.id


def test_a_roster_version_taking_effect_later_ends_the_row_on_its_day(tmp_path):
    roster = tmp_path / "roster.csv"
    statuses = ["运行"] * ACCOUNTS
    write_roster(roster, statuses)
    with Store.open(tmp_path / "m.db") as store:
        import_roster(store, roster, START, START - timedelta(days=10))
        view = store.accounts_at(START)[0]
        obs = Observation(view.id, START, "weibo", Outcome.OK, latest_post_at=START)
        record(store, SETTINGS, [Seen(view, "weibo", obs)], now=START)
        statuses[0] = "已注销"
        write_roster(roster, statuses)
        import_roster(store, roster, START, START + timedelta(days=2))
        assert holding(store, START)[view.id] == "active"
        later = START + timedelta(days=2, hours=1)
        assert view.id not in holding(store, later)  # the row ends where the roster changes
        assert read_now(store, later)[view.id] == judged_now(store, later)[view.id]
        assert judged_now(store, later)[view.id] == ("cancelled", False)

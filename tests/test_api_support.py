"""A small city for the API tests (no tests here): units, accounts in every state, alerts.

Times are relative to the real clock, because the API judges "as of today".
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from monitor.models import Observation, Outcome, Platform, RosterStatus
from monitor.settings import Settings
from monitor.store import AccountChange, ImportRecord, Store

NOW = datetime.now(UTC)

# (region, unit, platform, name, account_id, what the last checks saw)
ACCOUNTS = [
    ("市直部门", "市住房公积金中心", "wechat", "安康住房公积金", "gjj_wx", "active"),
    ("市直部门", "市住房公积金中心", "weibo", "安康公积金", "5512345678", "zombie"),
    ("市直部门", "市人民政府办公室", "weibo", "安康发布", "2803301701", "active"),
    ("市直部门", "市人民政府办公室", "douyin", "安康发布抖音", "ak_douyin", "warning"),
    ("石泉县", "石泉县统计局", "weibo", "石泉统计", "1111", "no_content"),
    ("石泉县", "石泉县教育局", "wechat", "石泉教育", "sq_edu", "suspended"),
    ("汉阴县", "汉阴县农林科技局", "wechat", "汉阴农林科技", "hy_nl", "not_found"),
    ("汉阴县", "汉阴县农林科技局", "weibo", "汉阴农林<script>alert(1)</script>", "2222", "failed"),
]


@dataclass
class City:
    db: Path
    ids: dict[str, int]  # name -> account id
    units: dict[str, int]  # unit name -> unit id
    alert: int


def _observation(account: int, kind: str) -> list[Observation]:
    seen = NOW - timedelta(hours=1)

    def ok(days: int, url: str = "https://m.weibo.cn/status/1") -> Observation:
        return Observation(
            account=account,
            observed_at=seen,
            source="weibo",
            outcome=Outcome.OK,
            latest_post_at=NOW - timedelta(days=days),
            post_url=url,
            post_title="最新一条",
        )

    failed = Observation(
        account=account,
        observed_at=seen - timedelta(hours=2),
        source="weibo",
        outcome=Outcome.BLOCKED,
        detail="HTTP 418",
    )
    return {
        "active": [ok(2)],
        "zombie": [ok(70, "javascript:alert(1)")],
        "warning": [ok(29)],
        "suspended": [ok(300)],
        "no_content": [
            Observation(
                account=account, observed_at=seen, source="feed", outcome=Outcome.NO_CONTENT
            )
        ],
        "not_found": [
            Observation(account=account, observed_at=seen, source="feed", outcome=Outcome.NOT_FOUND)
        ],
        "failed": [failed],
    }[kind]


def build_city(folder: Path) -> City:
    """Write the city into folder/m.db and return what the tests refer to."""
    db = folder / "m.db"
    with Store.open(db) as store:
        changes = [
            AccountChange(
                identity=f"{platform}:id:{account_id}",
                platform=Platform(platform),
                account_id=account_id,
                unit=unit,
                roster_order=i,
                fields={
                    "name": name,
                    "region": region,
                    "status": RosterStatus.OPERATING.value,
                    "source": "feed" if platform in ("wechat", "douyin") else "",
                },
            )
            for i, (region, unit, platform, name, account_id, _) in enumerate(ACCOUNTS)
        ]
        store.apply_import(
            ImportRecord(
                file="city.csv",
                form="long",
                imported_at=NOW - timedelta(days=400),
                effective_at=None,
            ),
            changes,
        )
        ids = {a.name: a.id for a in store.accounts_at(NOW)}
        units = {a.unit: a.unit_id for a in store.accounts_at(NOW)}
        observations = []
        for _, _, _, name, _, kind in ACCOUNTS:
            observations += _observation(ids[name], kind)
        store.add_observations(observations)
        with store.transaction():
            alert = store.open_alert(
                kind="became_zombie",
                now=NOW - timedelta(minutes=30),
                account=ids["安康公积金"],
                unit=units["市住房公积金中心"],
                evidence={"latest_post_at": "2020-02-18"},
            )
            store.open_alert(kind="source_down", now=NOW - timedelta(minutes=10), source="weibo")
            store.enqueue_delivery(event="e1", channel="operators#0", title="t", body="b", now=NOW)
    assert alert is not None
    return City(db=db, ids=ids, units=units, alert=alert)


def settings_for(token: str | None = None, **api: object) -> Settings:
    values: dict[str, object] = {"timezone": "Asia/Shanghai"}
    if token is not None:
        api = {**api, "token": token}
    if api:
        values["api"] = api
    return Settings(**values)

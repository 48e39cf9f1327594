"""Notifications: routes, Chinese messages, the outbox, and apprise against real loopback
receivers (an HTTP endpoint for json:// and a tiny SMTP server for mailto://)."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from test_daemon import START, Clock, run, weibo, world_factory

from monitor.checks import notify
from monitor.checks.alerts import AlertEvent
from monitor.checks.notify import AppriseSender, NotifyError
from monitor.daemon import Daemon
from monitor.models import AccountView, Platform, RosterStatus
from monitor.settings import Settings
from monitor.store import Store

SECRET = "s3cr3t-pass"


@pytest.fixture
def make_world(tmp_path):
    yield from world_factory(tmp_path)


# -- loopback receivers -------------------------------------------------------------------


class HttpReceiver:
    """Answers 503 while `down`, else 200; keeps the JSON bodies it accepted."""

    def __init__(self) -> None:
        self.down = False
        self.bodies: list[dict] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", 0))
                data = self.rfile.read(length)
                if receiver.down:
                    self.send_response(503)
                    self.end_headers()
                    return
                receiver.bodies.append(json.loads(data))
                self.send_response(200)
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"json://monitor:{SECRET}@127.0.0.1:{self.port}/hook"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class SmtpReceiver:
    """A minimal SMTP server: 421 at the greeting while `down`, else accepts every message.

    With `auth`, it offers AUTH PLAIN (so a client sends its password) and counts logins.
    """

    def __init__(self, *, auth: bool = False) -> None:
        self.down = False
        self.messages: list[bytes] = []
        self.logins = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        ready = threading.Event()
        self.port = 0

        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            if self.down:
                writer.write(b"421 service not available\r\n")
                await writer.drain()
                writer.close()
                return
            writer.write(b"220 localhost ESMTP\r\n")
            data: list[bytes] | None = None
            while line := await reader.readline():
                if data is not None:
                    if line in (b".\r\n", b".\n"):
                        self.messages.append(b"".join(data))
                        data = None
                        writer.write(b"250 queued\r\n")
                    else:
                        data.append(line)
                    continue
                cmd = line.decode("ascii", "replace").strip().upper()
                if cmd.startswith(("EHLO", "HELO")):
                    offer = b"250-AUTH PLAIN\r\n" if auth else b""
                    writer.write(b"250-localhost\r\n" + offer + b"250 8BITMIME\r\n")
                elif auth and cmd.startswith("AUTH"):
                    self.logins += 1
                    writer.write(b"235 2.7.0 authenticated\r\n")
                elif cmd.startswith("DATA"):
                    data = []
                    writer.write(b"354 end with .\r\n")
                elif cmd.startswith("QUIT"):
                    writer.write(b"221 bye\r\n")
                    await writer.drain()
                    break
                else:
                    writer.write(b"250 ok\r\n")
                await writer.drain()
            writer.close()

        async def serve() -> None:
            self._loop = asyncio.get_running_loop()
            self._stop = asyncio.Event()
            server = await asyncio.start_server(handle, "127.0.0.1", 0)
            self.port = server.sockets[0].getsockname()[1]
            ready.set()
            async with server:
                await self._stop.wait()

        self.thread = threading.Thread(target=lambda: asyncio.run(serve()), daemon=True)
        self.thread.start()
        ready.wait(5)

    @property
    def url(self) -> str:
        return (
            f"mailto://127.0.0.1:{self.port}?from=monitor@example.com&to=unit@example.com"
            "&mode=insecure"
        )

    def close(self) -> None:
        if self._loop and self._stop:
            self._loop.call_soon_threadsafe(self._stop.set)
        self.thread.join(5)


@pytest.fixture
def receivers():
    http, smtp = HttpReceiver(), SmtpReceiver()
    yield http, smtp
    http.close()
    smtp.close()


def account(unit: str = "市统计局", region: str = "市直部门") -> AccountView:
    return AccountView(
        id=3,
        platform=Platform.WEIBO,
        account_id="1001",
        name="统计微博",
        unit=unit,
        unit_id=2,
        region=region,
        status=RosterStatus.OPERATING,
        roster_order=0,
    )


# -- apprise wrapper ---------------------------------------------------------------------------


def test_apprise_returning_false_becomes_a_notify_error_without_the_url():
    sender = AppriseSender()
    with pytest.raises(NotifyError) as caught:
        sender.send(f"json://monitor:{SECRET}@127.0.0.1:1/hook", "t", "b")
    assert caught.value.permanent is False
    assert SECRET not in caught.value.message
    assert "127.0.0.1:1/hook" not in caught.value.message
    assert caught.value.message


def test_a_url_apprise_does_not_understand_is_a_permanent_error():
    with pytest.raises(NotifyError) as caught:
        AppriseSender().send("nosuchscheme://x", "t", "b")
    assert caught.value.permanent is True


def test_scrub_removes_urls_and_named_secrets():
    text = f"failed for json://u:{SECRET}@host/x and token {SECRET}"
    out = notify.scrub(text, [SECRET])
    assert SECRET not in out and "json://" not in out


# -- routes and messages --------------------------------------------------------------------


def test_unit_alerts_go_to_the_unit_and_region_routes_and_unrouted_ones_to_the_operators():
    settings = Settings(
        notify={
            "operators": ["json://ops/a", "json://ops/b"],
            "units": {"市统计局": ["mailto://x"]},
            "regions": {"市直部门": ["json://region"]},
        }
    )
    routed = AlertEvent(1, "became_zombie", "opened", account())
    assert notify.channels_for(settings, routed) == ["unit:市统计局#0", "region:市直部门#0"]
    unrouted = AlertEvent(1, "became_zombie", "opened", account("某镇", "汉阴县"))
    assert notify.channels_for(settings, unrouted) == ["operators#0", "operators#1"]
    failing = AlertEvent(1, "check_failing", "opened", account())
    assert notify.channels_for(settings, failing) == ["operators#0", "operators#1"]
    assert notify.resolve(settings, "unit:市统计局#0") == "mailto://x"
    assert notify.resolve(settings, "operators#1") == "json://ops/b"
    assert notify.resolve(settings, "operators#2") is None
    assert notify.resolve(settings, "unit:gone#0") is None


def test_a_zombie_message_is_in_chinese_with_every_fact_a_unit_needs():
    event = AlertEvent(
        1,
        "became_zombie",
        "opened",
        account(),
        evidence={
            "state_label": "僵尸微博",
            "latest_post_date": "2020-02-18",
            "days_silent": 15,
            "url": "https://m.weibo.cn/detail/1",
            "title": "春节值班安排",
            "observed_at": "2020-03-04T09:00:00+08:00",
        },
    )
    title, body = notify.render(event)
    assert title == "【僵尸微博】市统计局 · 统计微博"
    for fact in (
        "主办单位：市统计局",
        "微博",
        "状态：僵尸微博",
        "最后更新：2020-02-18",
        "已停更：15 天",
        "https://m.weibo.cn/detail/1",
    ):
        assert fact in body
    closed = AlertEvent(1, "became_zombie", "closed", account(), reason="recovered")
    assert notify.render(closed)[0].startswith("【已恢复】")


def test_a_message_words_the_reason_and_details_in_chinese_from_their_codes():
    event = AlertEvent(
        1,
        "became_zombie",
        "opened",
        account(),
        evidence={
            "state_label": "僵尸微博",
            "reason": "last post 2020-02-18, before 2020-02-19",
            "reason_code": "verdict.zombie.last_post",
            "reason_params": {"post": "2020-02-18", "limit": "2020-02-19", "window": "14d"},
        },
    )
    body = notify.render(event)[1]
    assert "说明：最后发布于 2020-02-18，早于 2020-02-19（超过 2 周未更新）" in body
    assert "last post" not in body
    # An alert stored before reasons had codes still shows its text.
    old = AlertEvent(1, "became_zombie", "opened", account(), evidence={"reason": "last post x"})
    assert "说明：last post x" in notify.render(old)[1]
    failing = AlertEvent(
        2,
        "check_failing",
        "opened",
        account(),
        evidence={
            "failures": 3,
            "last_outcome": "parse_error",
            "detail": "adapter error: ValueError: bad",
            "detail_code": "check.adapter_error",
            "detail_params": {"error_type": "ValueError", "error": "bad"},
        },
    )
    assert "详情：采集程序出错：ValueError: bad" in notify.render(failing)[1]
    escalated = AlertEvent(1, "became_warning", "closed", account(), reason="now became_zombie")
    assert "已关闭（已转为僵尸账号）" in notify.render(escalated)[1]


# -- the outbox with real receivers ----------------------------------------------------------


def test_during_an_outage_nothing_is_lost_and_afterwards_each_alert_is_delivered_once(
    make_world, receivers
):
    http, smtp = receivers
    clock = Clock()
    world = make_world(
        [
            weibo("1001", START - timedelta(days=40), unit="市统计局"),
            weibo("1002", START - timedelta(days=20), unit="市水利局"),
            weibo("1003", START - timedelta(days=1), unit="市水利局"),
        ],
        clock,
        notify={"operators": [http.url], "units": {"市统计局": [smtp.url]}},
    )
    world.sender = AppriseSender()
    http.down = smtp.down = True

    async def during():
        async with world.daemon() as daemon:
            await daemon.run_once()  # opens the alerts, writes the outbox, fails to send
            for minutes in (2, 6, 31):
                clock.advance(minutes=minutes)
                summary = await daemon.deliver()
                assert summary.delivered == 0 and summary.failed > 0

    run(during())
    rows = world.store.deliveries()
    assert len(rows) == 2  # zombie -> the unit's mail; suspended (unrouted) -> operators
    assert {r.channel for r in rows} == {"unit:市统计局#0", "operators#0"}
    assert all(r.delivered_at is None and r.attempts == 4 for r in rows)
    assert all(r.last_error and SECRET not in r.last_error for r in rows)
    stored = json.dumps(world.store.dump(), ensure_ascii=False, default=str)
    assert SECRET not in stored and str(http.port) not in stored

    # The daemon restarts (a new process would open the file afresh), then the outage ends.
    world.store.close()
    world.store = Store.open(world.db)
    http.down = smtp.down = False
    clock.advance(minutes=121)

    async def after():
        async with world.daemon() as daemon:
            first = await daemon.deliver()
            clock.advance(hours=13)
            second = await daemon.deliver()
            await daemon.run_once()
            return first, second

    first, second = run(after())
    assert (first.delivered, second.delivered) == (2, 0)
    assert len(http.bodies) == 1 and len(smtp.messages) == 1
    assert "市水利局" in http.bodies[0]["title"]
    assert b"Subject:" in smtp.messages[0]
    assert all(r.delivered_at is not None for r in world.store.deliveries())


def test_a_claimed_delivery_cannot_be_claimed_again(tmp_path):
    with Store.open(tmp_path / "m.db") as store:
        assert store.enqueue_delivery(
            event="alert:1:opened", channel="operators#0", title="t", body="b", now=START
        )
        assert not store.enqueue_delivery(
            event="alert:1:opened", channel="operators#0", title="t", body="b", now=START
        )
        (row,) = store.due_deliveries(START)
        until = START + timedelta(minutes=5)
        assert store.claim_delivery(row.id, START, until)
        assert not store.claim_delivery(row.id, START, until)
        assert store.due_deliveries(START + timedelta(minutes=1)) == []
        store.mark_delivered(row.id, START)
        assert not store.claim_delivery(row.id, START + timedelta(hours=1), until)


def test_a_delivery_is_abandoned_after_max_attempts_and_at_once_for_a_permanent_error(
    tmp_path,
):
    settings = Settings(
        notify={"operators": ["json://x"], "max_attempts": 2, "retry_delays_min": [1.0]}
    )

    class Failing:
        def __init__(self, permanent: bool):
            self.permanent = permanent

        def send(self, url, title, body):
            raise NotifyError("down", permanent=self.permanent)

    with Store.open(tmp_path / "m.db") as store:
        for event in ("a", "b"):
            store.enqueue_delivery(
                event=event, channel="operators#0", title="t", body="b", now=START
            )
        s1 = run(notify.deliver_due(store, settings, Failing(False), START))
        assert (s1.failed, s1.abandoned) == (2, 0)
        s2 = run(notify.deliver_due(store, settings, Failing(False), START + timedelta(minutes=2)))
        assert s2.abandoned == 2
        assert all(r.failed_at is not None for r in store.deliveries())
        store.enqueue_delivery(event="c", channel="operators#0", title="t", body="b", now=START)
        s3 = run(notify.deliver_due(store, settings, Failing(True), START + timedelta(minutes=3)))
        assert s3.abandoned == 1


def test_digest_mode_sends_one_message_per_unit_once_a_day(make_world):
    clock = Clock(START + timedelta(hours=1))  # 11:00 local, after digest_at
    world = make_world(
        [
            weibo("2001", START - timedelta(days=40), unit="市统计局"),
            weibo("2002", START - timedelta(days=20), unit="市统计局"),
            weibo("2003", START - timedelta(days=1), unit="市统计局"),
        ],
        clock,
        notify={"operators": ["json://ops"], "digest": True, "digest_at": "08:30"},
    )

    async def go():
        async with world.daemon() as daemon:
            await daemon.run_once()
            clock.advance(hours=2)
            await daemon.run_once()
            clock.advance(days=1)
            await daemon.run_once()

    run(go())
    sent = world.sender.sent
    assert len(sent) == 2  # one digest per day for the unit's two problems
    title, body = sent[0][1], sent[0][2]
    assert title == "【每日汇总】市统计局：2 个账号存在问题"
    assert body.count("\n- ") == 2 and "已停更" in body


def test_delivery_passes_are_quick_when_nothing_is_due(tmp_path):
    settings = Settings()
    with Store.open(tmp_path / "m.db") as store:
        daemon = Daemon(store, settings, clock=lambda: START)
        started = time.monotonic()
        summary = run(daemon.deliver())
        assert summary.delivered == 0 and time.monotonic() - started < 1

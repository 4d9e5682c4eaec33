"""Mail notices to the responsible units, through a real SMTP server (aiosmtpd) on a free
loopback port: a forwarded ticket and an urging are mailed to the unit with nothing of
the citizen's, a near deadline once a day, a server that is down is retried and logged
while the desk goes on, `[mail]` off sends nothing, bad settings are one-line errors."""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from callcenter.calls.repository import CallRepository
from callcenter.errors import ConfigError
from callcenter.mail.address import is_mail_address
from callcenter.mail.message import Notice, NoticeKind, build_message
from callcenter.mail.notices import MailNotices, mail_running
from callcenter.mail.sender import SmtpSender
from callcenter.settings import Settings, load_settings
from callcenter.store import Store
from callcenter.supervision import supervised
from callcenter.tickets.deadlines import working_days_left
from callcenter.tickets.directory import Directory, load_directory
from callcenter.tickets.repository import TicketRepository
from callcenter.tickets.service import TicketService
from callcenter.vocabulary import TicketState
from tests.harness import HOME, assert_one_line_error, free_port, instance_env, run_hotline, settings_for

ZONE = ZoneInfo("Asia/Shanghai")
SENDER = "12345@hotline.example.gov.cn"
CONSOLE = "https://hotline.example.gov.cn"
ZEZHOU = ["banshi@zezhou.example.gov.cn", "duban@zezhou.example.gov.cn"]
CHENGQU = ["office@chengqu.example.gov.cn"]
# What the citizen told the operator: none of it may leave in a mail.
CITIZEN = {"name": "王建国", "address": "泽州县金村镇府城村12号", "contact": "13800138000",
           "caller": "13935600001", "summary": "小区路灯不亮已有两周"}
UNITS = f"""
[tickets]
deadline_working_days = 7

[[unit]]
code = "zezhou"
name = "泽州县人民政府"
aliases = ["泽州县"]
kind = "county"
email = {ZEZHOU!r}

[[unit]]
code = "chengqu"
name = "城区人民政府"
kind = "county"
email = {CHENGQU!r}

[[unit]]
code = "qinshui"
name = "沁水县人民政府"
kind = "county"
"""


def at(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


@dataclass
class Clock:
    now: float

    def __call__(self) -> float:
        return self.now


@dataclass
class Inbox:
    """An aiosmtpd handler keeping every mail it accepted; it answers 451 (try again
    later) to the first `refuse` mails."""

    received: list[Envelope] = field(default_factory=list)
    refuse: int = 0

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.refuse > 0:
            self.refuse -= 1
            return "451 4.3.0 try again later"
        self.received.append(envelope)
        return "250 OK"

    def messages(self) -> list[EmailMessage]:
        out = []
        for envelope in self.received:
            assert isinstance(envelope.content, bytes)
            parsed = message_from_bytes(envelope.content, policy=policy.default)
            assert isinstance(parsed, EmailMessage)
            out.append(parsed)
        return out


@pytest.fixture
def inbox() -> Iterator[tuple[Inbox, int]]:
    handler = Inbox()
    port = free_port((socket.SOCK_STREAM,))
    server = Controller(handler, hostname="127.0.0.1", port=port)
    server.start()
    try:
        yield handler, port
    finally:
        server.stop()


def mail_settings(tmp_path: Path, port: int, **overrides: str) -> Settings:
    mail = {"HOTLINE_MAIL_ENABLED": "true", "HOTLINE_MAIL_HOST": "127.0.0.1", "HOTLINE_MAIL_PORT": str(port),
            "HOTLINE_MAIL_STARTTLS": "false", "HOTLINE_MAIL_SENDER": SENDER, "HOTLINE_MAIL_CONSOLE_URL": CONSOLE}
    return settings_for(instance_env(tmp_path, **(mail | overrides)))


@pytest.fixture
def directory(tmp_path: Path) -> Directory:
    path = tmp_path / "units.toml"
    path.write_text(UNITS, encoding="utf-8")
    return load_directory(path)


@pytest.fixture
def clock() -> Clock:
    return Clock(at("2024-09-19T11:00:00+08:00"))  # a Thursday


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    async with Store(tmp_path / "hotline.db") as running:
        for n in range(1, 4):
            epoch = at(f"2024-09-19T10:0{n}:00+08:00")
            CallRepository(running).save(
                f"c{n}", caller_number=CITIZEN["caller"] if n == 1 else f"1393560000{n}",
                arrived=f"2024-09-19T10:0{n}:00+08:00", arrived_epoch=epoch, outcome="answered", seat="seat3",
                seat_answered=datetime.fromtimestamp(epoch + 15, ZONE).isoformat(), wait_seconds=5,
                talk_seconds=120, state="done")
        await running.flush()
        yield running


def desk_on(settings: Settings, store: Store, directory: Directory, clock: Clock) -> TicketService:
    return TicketService(settings, TicketRepository(store), CallRepository(store), directory, clock=clock)


@asynccontextmanager
async def notices_on(settings: Settings, desk: TicketService, clock: Clock, *, attempts: int = 3,
                     scan_seconds: float = 3600.0) -> AsyncIterator[MailNotices]:
    sender = SmtpSender(settings.mail, timeout=5.0, attempts=attempts, backoff=0.01)
    try:
        async with mail_running(settings, desk, "http://127.0.0.1:8080", sender=sender, clock=clock,
                                scan_seconds=scan_seconds) as notices:
            assert notices is not None
            yield notices
    finally:
        sender.close()


async def new_ticket(desk: TicketService, call: str = "c1", unit: str = "zezhou") -> int:
    return await desk.create([call], "help", CITIZEN["summary"], unit, operator="seat3",
                             citizen_name=CITIZEN["name"], contact_number=CITIZEN["contact"],
                             address=CITIZEN["address"], actor="op3")


def everything_in(message: EmailMessage, raw: bytes) -> str:
    """The mail as a reader (or a leak) sees it: every header decoded, the text, the raw bytes."""
    headers = "\n".join(f"{name}: {value}" for name, value in message.items())
    content = message.get_content()
    assert isinstance(content, str)
    return "\n".join([headers, content, raw.decode("ascii", errors="replace")])


async def until(condition: Callable[[], bool], seconds: float = 5.0) -> None:
    async with asyncio.timeout(seconds):
        while not condition():
            await asyncio.sleep(0.01)


# ------------------------------------------------------------------------ the message


def test_a_message_holds_the_ticket_number_the_deadline_and_the_link_and_is_marked_automatic() -> None:
    notice = Notice(NoticeKind.NEW, 42, "zezhou", "泽州县人民政府", tuple(ZEZHOU), date(2024, 9, 29),
                    f"{CONSOLE}/unit?ticket=42")
    message = build_message(notice, sender=SENDER, title="晋城市12345市长热线", now=at("2024-09-19T11:00:00+08:00"),
                            zone=ZONE)
    assert message["Subject"] == "【新工单】工单 42 - 晋城市12345市长热线"
    assert message["To"] == ", ".join(ZEZHOU)
    assert SENDER in str(message["From"])
    assert message["Auto-Submitted"] == "auto-generated"
    assert str(message["Message-ID"]).endswith("@hotline.example.gov.cn>")
    text = message.get_content()
    assert "编号 42" in text and "2024年9月29日" in text and f"{CONSOLE}/unit?ticket=42" in text


@pytest.mark.parametrize("address", ["a@b", "banshi@zezhou.example.gov.cn", "x.y+z@mail-1.example.org"])
def test_plain_addresses_are_mail_addresses(address: str) -> None:
    assert is_mail_address(address)


@pytest.mark.parametrize("address", ["", "no-at-sign", "a@", "@b", "a b@c", "a@b\r\nBcc: x@y", "王@example.org",
                                     "Name <a@b>", "a@-b", "a@b..c"])
def test_anything_else_is_not(address: str) -> None:
    assert not is_mail_address(address)


# ------------------------------------------------------------------------ through SMTP


async def test_a_forwarded_ticket_mails_the_units_addresses_once_with_only_its_number_and_link(
        tmp_path: Path, inbox: tuple[Inbox, int], store: Store, directory: Directory, clock: Clock) -> None:
    server, port = inbox
    settings = mail_settings(tmp_path, port)
    desk = desk_on(settings, store, directory, clock)
    async with notices_on(settings, desk, clock) as notices:
        ticket_id = await new_ticket(desk)
        await desk.link_calls(ticket_id, ["c2"], actor="op3")
        await notices.settled()
        assert server.received == []  # created and linked: still with the hotline
        assert await desk.forward(ticket_id, actor="boss") is TicketState.FORWARDED
        await notices.settled()
    assert len(server.received) == 1
    envelope = server.received[0]
    assert sorted(envelope.rcpt_tos) == sorted(ZEZHOU)
    assert envelope.mail_from == SENDER
    message = server.messages()[0]
    assert "新工单" in str(message["Subject"]) and str(ticket_id) in str(message["Subject"])
    assert isinstance(envelope.content, bytes)
    seen = everything_in(message, envelope.content)
    assert f"{CONSOLE}/unit?ticket={ticket_id}" in seen
    for what, value in CITIZEN.items():
        assert value not in seen, f"the mail holds the citizen's {what}"
    assert "路灯" not in seen  # not even a word of the summary
    deadline = (await desk.detail(ticket_id)).ticket["deadline"]
    assert isinstance(deadline, str)
    day = date.fromisoformat(deadline)
    assert f"{day.year}年{day.month}月{day.day}日" in seen


async def test_an_urging_mails_the_unit_and_a_ticket_forwarded_on_mails_the_new_unit(
        tmp_path: Path, inbox: tuple[Inbox, int], store: Store, directory: Directory, clock: Clock) -> None:
    server, port = inbox
    settings = mail_settings(tmp_path, port)
    desk = desk_on(settings, store, directory, clock)
    async with notices_on(settings, desk, clock) as notices:
        ticket_id = await new_ticket(desk)
        await desk.forward(ticket_id, actor="boss")
        await desk.urge(ticket_id, note=f"市民{CITIZEN['name']}再次来电", actor="boss")
        await desk.forward(ticket_id, unit="chengqu", actor="boss")
        await notices.settled()
    subjects = [str(m["Subject"]) for m in server.messages()]
    assert [s.split("】")[0] for s in subjects] == ["【新工单", "【督办", "【新工单"]
    assert [sorted(e.rcpt_tos) for e in server.received] == [sorted(ZEZHOU), sorted(ZEZHOU), CHENGQU]
    urged = server.received[1]
    assert isinstance(urged.content, bytes)
    assert CITIZEN["name"] not in everything_in(server.messages()[1], urged.content)  # nor the supervisor's note


async def test_a_unit_without_addresses_gets_no_mail_and_that_is_logged_once(
        tmp_path: Path, inbox: tuple[Inbox, int], store: Store, directory: Directory, clock: Clock,
        caplog: pytest.LogCaptureFixture) -> None:
    server, port = inbox
    settings = mail_settings(tmp_path, port)
    desk = desk_on(settings, store, directory, clock)
    with caplog.at_level(logging.WARNING, logger="callcenter.mail"):
        async with notices_on(settings, desk, clock) as notices:
            first = await new_ticket(desk, "c1", "qinshui")
            second = await new_ticket(desk, "c2", "qinshui")
            await desk.forward(first, actor="boss")
            await desk.forward(second, actor="boss")
            await notices.settled()
    assert server.received == []
    said = [r.getMessage() for r in caplog.records if "no email" in r.getMessage()]
    assert len(said) == 1 and "qinshui" in said[0] and f"ticket {first}" in said[0]


async def test_the_deadline_warning_goes_once_a_day_while_the_deadline_is_near(
        tmp_path: Path, inbox: tuple[Inbox, int], store: Store, directory: Directory, clock: Clock) -> None:
    server, port = inbox
    settings = mail_settings(tmp_path, port)
    desk = desk_on(settings, store, directory, clock)
    async with notices_on(settings, desk, clock) as notices:
        ticket_id = await new_ticket(desk)
        await desk.forward(ticket_id, actor="boss")
        kept = await new_ticket(desk, "c2")  # still with the hotline: the unit has not got it
        await notices.settled()
        deadline_text = (await desk.detail(ticket_id)).ticket["deadline"]
        assert isinstance(deadline_text, str) and (await desk.detail(kept)).ticket["deadline"] == deadline_text
        deadline = date.fromisoformat(deadline_text)
        mailed: dict[date, int] = {}
        day = date(2024, 9, 19)
        while day <= deadline + timedelta(days=2):
            for hour in ("09:00", "15:30"):  # two scans a day: the second one mails nothing new
                clock.now = at(f"{day.isoformat()}T{hour}:00+08:00")
                mailed[day] = mailed.get(day, 0) + await notices.scan_deadlines()
            day += timedelta(days=1)
    expected = {d: int(d <= deadline and working_days_left(deadline, d) <= 2) for d in mailed}
    assert mailed == expected
    assert sum(expected.values()) >= 2  # the bench of days above covers more than the deadline day
    due = server.messages()[1:]  # after the 新工单 of the forward
    assert len(due) == sum(expected.values())
    assert all("即将到期" in str(m["Subject"]) and str(ticket_id) in str(m["Subject"]) for m in due)
    last = due[-1].get_content()
    assert isinstance(last, str) and "今天到期" in last


async def test_a_restart_the_same_day_warns_nobody_twice(
        tmp_path: Path, inbox: tuple[Inbox, int], store: Store, directory: Directory, clock: Clock) -> None:
    server, port = inbox
    settings = mail_settings(tmp_path, port)
    desk = desk_on(settings, store, directory, clock)
    ticket_id = await new_ticket(desk)
    await desk.forward(ticket_id, actor="boss")
    deadline = (await desk.detail(ticket_id)).ticket["deadline"]
    clock.now = at(f"{deadline}T09:00:00+08:00")
    async with notices_on(settings, desk, clock) as notices:
        assert await notices.scan_deadlines() == 1
    async with notices_on(settings, desk, clock) as notices:
        assert await notices.scan_deadlines() == 0
    assert len(server.received) == 1


async def test_the_deadline_scan_runs_by_itself(
        tmp_path: Path, inbox: tuple[Inbox, int], store: Store, directory: Directory, clock: Clock) -> None:
    server, port = inbox
    settings = mail_settings(tmp_path, port)
    desk = desk_on(settings, store, directory, clock)
    ticket_id = await new_ticket(desk)
    await desk.forward(ticket_id, actor="boss")  # before the notices start: no 新工单
    clock.now = at(f"{(await desk.detail(ticket_id)).ticket['deadline']}T09:00:00+08:00")
    async with notices_on(settings, desk, clock, scan_seconds=0.05):
        await until(lambda: len(server.received) == 1)
    assert "即将到期" in str(server.messages()[0]["Subject"])


async def test_a_server_that_refuses_for_now_is_tried_again(
        tmp_path: Path, inbox: tuple[Inbox, int], store: Store, directory: Directory, clock: Clock,
        caplog: pytest.LogCaptureFixture) -> None:
    server, port = inbox
    server.refuse = 1
    settings = mail_settings(tmp_path, port)
    desk = desk_on(settings, store, directory, clock)
    with caplog.at_level(logging.WARNING, logger="callcenter.mail"):
        async with notices_on(settings, desk, clock) as notices:
            ticket_id = await new_ticket(desk)
            await desk.forward(ticket_id, actor="boss")
            await notices.settled()
    assert len(server.received) == 1
    assert any(f"ticket {ticket_id}: attempt 1 of 3" in r.getMessage() and "451" in r.getMessage()
               for r in caplog.records)


async def test_a_server_that_is_down_is_retried_then_logged_and_the_desk_goes_on(
        tmp_path: Path, store: Store, directory: Directory, clock: Clock, caplog: pytest.LogCaptureFixture) -> None:
    settings = mail_settings(tmp_path, free_port((socket.SOCK_STREAM,)))  # nothing listens there
    desk = desk_on(settings, store, directory, clock)
    with caplog.at_level(logging.WARNING, logger="callcenter.mail"):
        async with notices_on(settings, desk, clock) as notices:
            ticket_id = await new_ticket(desk)
            assert await desk.forward(ticket_id, actor="boss") is TicketState.FORWARDED
            assert await desk.urge(ticket_id, actor="boss") == 1
            await notices.settled()
            clock.now = at(f"{(await desk.detail(ticket_id)).ticket['deadline']}T09:00:00+08:00")
            assert await notices.scan_deadlines() == 0
            assert notices.ledger.sent == set()  # not marked: the next scan tries again
    messages = [r.getMessage() for r in caplog.records]
    retries = [m for m in messages if f"ticket {ticket_id}: attempt" in m]
    assert len(retries) == 3 * 2  # attempts 1 and 2 of 3, for each of the three notices
    failures = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(failures) == 3
    assert all(f"ticket {ticket_id}" in r.getMessage() and "failed 3 times" in r.getMessage() for r in failures)
    assert (await desk.detail(ticket_id)).ticket["urge_count"] == 1


async def test_with_mail_off_nothing_is_sent(
        tmp_path: Path, inbox: tuple[Inbox, int], store: Store, directory: Directory, clock: Clock) -> None:
    server, port = inbox
    settings = mail_settings(tmp_path, port, HOTLINE_MAIL_ENABLED="false")
    desk = desk_on(settings, store, directory, clock)
    async with mail_running(settings, desk, "http://127.0.0.1:8080", clock=clock) as notices:
        assert notices is None
        ticket_id = await new_ticket(desk)
        await desk.forward(ticket_id, actor="boss")
        await desk.urge(ticket_id, actor="boss")
    assert server.received == []


def test_mail_is_off_in_the_shipped_settings() -> None:
    settings = load_settings(env={"HOTLINE_HOME": str(HOME)})
    assert settings.mail.enabled is False
    assert settings.mail.deadline_warning_working_days == 2
    assert settings.mail.password == ""


# ------------------------------------------------------------------------ supervision


async def test_a_notices_task_that_dies_is_logged_loudly_and_started_again(caplog: pytest.LogCaptureFixture) -> None:
    runs: list[int] = []
    forever = asyncio.Event()

    async def work() -> None:
        runs.append(1)
        if len(runs) == 1:
            raise RuntimeError("a bug")
        await forever.wait()

    task: asyncio.Task[None] = asyncio.create_task(supervised("mail test", work, restart_after=0.01))
    try:
        await until(lambda: len(runs) == 2)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    died = [r for r in caplog.records if r.levelno == logging.CRITICAL]
    assert len(died) == 1 and "mail test died" in died[0].getMessage() and died[0].exc_info is not None


# ------------------------------------------------------------------------ settings


@pytest.mark.parametrize(
    ("overrides", "named"),
    [
        ({"HOTLINE_MAIL_HOST": ""}, "mail.host is empty"),
        ({"HOTLINE_MAIL_SENDER": ""}, "mail.sender is empty"),
        ({"HOTLINE_MAIL_SENDER": "hotline at example"}, "mail.sender must be a mail address"),
        ({"HOTLINE_MAIL_PORT": "0"}, "mail.port must be a port"),
        ({"HOTLINE_MAIL_PORT": "smtp"}, "HOTLINE_MAIL_PORT"),
        ({"HOTLINE_MAIL_ENABLED": "maybe"}, "HOTLINE_MAIL_ENABLED"),
        ({"HOTLINE_MAIL_DEADLINE_WARNING_WORKING_DAYS": "-1"}, "mail.deadline_warning_working_days"),
        ({"HOTLINE_MAIL_CONSOLE_URL": "ftp://hotline"}, "mail.console_url"),
        ({"HOTLINE_MAIL_USER": "hotline"}, "HOTLINE_MAIL_PASSWORD"),
        ({"HOTLINE_MAIL_USER": "hotline", "HOTLINE_MAIL_PASSWORD": "pw", "HOTLINE_MAIL_HOST": "smtp.example.org"},
         "in clear"),
    ],
)
def test_a_bad_mail_setting_is_a_config_error_naming_it(tmp_path: Path, overrides: dict[str, str],
                                                       named: str) -> None:
    with pytest.raises(ConfigError, match=named.replace(".", r"\.")):
        mail_settings(tmp_path, 2525, **overrides)


def test_a_password_in_a_settings_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "hotline.toml"
    shipped = (HOME / "config" / "hotline.toml").read_text(encoding="utf-8")
    path.write_text(shipped.replace("[mail]\n", '[mail]\npassword = "secret"\n'), encoding="utf-8")
    with pytest.raises(ConfigError, match=r"mail\.password must not be written in a settings file"):
        load_settings(path, env={"HOTLINE_HOME": str(HOME)})


def test_the_password_comes_from_the_environment(tmp_path: Path) -> None:
    settings = mail_settings(tmp_path, 2525, HOTLINE_MAIL_USER="hotline", HOTLINE_MAIL_PASSWORD="from-env")
    assert settings.mail.password == "from-env"
    assert "from-env" not in repr(settings.mail)


def test_a_bad_mail_setting_stops_the_command_with_one_line(tmp_path: Path) -> None:
    env = instance_env(tmp_path, HOTLINE_MAIL_ENABLED="true", HOTLINE_MAIL_HOST="smtp.example.org",
                       HOTLINE_MAIL_SENDER="not an address")
    assert_one_line_error(run_hotline(env, "tickets", "units"), "mail.sender")


@pytest.mark.parametrize(("email", "named"), [
    ('"office@zezhou.example.gov.cn"', "email must be a list"),
    ('["office@zezhou.example.gov.cn", "office at zezhou"]', "'office at zezhou' is not a mail address"),
])
def test_a_bad_unit_address_is_refused_naming_the_unit(tmp_path: Path, email: str, named: str) -> None:
    path = tmp_path / "units.toml"
    path.write_text(UNITS.replace(f"email = {ZEZHOU!r}", f"email = {email}"), encoding="utf-8")
    with pytest.raises(ConfigError, match=rf"unit #1 \(zezhou\): .*{named}"):
        load_directory(path)


def test_the_shipped_directory_still_loads_with_no_addresses() -> None:
    directory = load_directory(HOME / "config" / "units.toml")
    assert all(unit.email == () for unit in directory.units)


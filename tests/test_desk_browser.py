"""The tickets desk end to end in a real browser (Debian's chromium, Playwright) with real
calls: SIPp citizens through the real Asterisk and controller, a SIPp phone answering on
seat1. The operator writes a ticket from the live call in the 留单 form; the same
citizen's second call is offered that ticket and linked to it; the supervisor forwards
it; the unit's account replies with a PDF; the reply reaches the supervisor's 已办理 panel
by itself, and the ticket's page shows the whole history and plays both recordings.
Screenshots go to test-output/desk-e2e-*.png."""

from __future__ import annotations

import asyncio
import re
import socket
import subprocess
import time
from pathlib import Path
from typing import IO, Any

import pytest

from callcenter.tickets.directory import load_directory, units_file
from callcenter.users import add_unit_user, read_generated_passwords
from callcenter.vocabulary import SeatState
from callcenter.web import web_running
from tests.conftest import RunningAsterisk
from tests.flow import FAST, Hotline, hotline_for
from tests.harness import SeatPhone, caller_argv, free_port
from tests.web_helpers import OUTPUT, browser_log_in, chromium

pytestmark = pytest.mark.asterisk

CITIZEN = "13987654321"
SUMMARY = "小区路灯不亮三天了，晚上出行不便"
REPLY = "已派人修复小区路灯，现已恢复照明。"
# A small valid PDF (one empty page): header, catalog, pages, page, xref, trailer.
PDF = (b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
       b"2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
       b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 200 200]>>endobj\n"
       b"xref\n0 4\n0000000000 65535 f \n0000000009 00000 n \n0000000052 00000 n \n0000000101 00000 n \n"
       b"trailer<</Size 4/Root 1 0 R>>\nstartxref\n164\n%%EOF\n")
MIN_CALL_SECONDS = 6.0  # each citizen stays on the line at least this long: recordings longer than 3 s
WAIT = 30_000  # ms: generous for a loaded two-core machine


class Citizen:
    """A SIPp citizen who presses 0 (an operator, no menu) and stays on the line until the
    hotline ends the call; killed if the test leaves early."""

    def __init__(self, hotline: Hotline, name: str) -> None:
        argv, _ = caller_argv(hotline.settings, hotline.workdir, CITIZEN, 0, "citizen_caller_waits.xml", digit="0",
                              digit_after_ms=500)
        self.errors_path = hotline.workdir / f"{name}.stderr"
        self._errors: IO[bytes] = self.errors_path.open("wb")
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=self._errors)
        self.started = time.monotonic()

    def on_line(self) -> bool:
        return self.proc.poll() is None

    async def hung_up_by_hotline(self, hotline: Hotline, call_id: str) -> None:
        """The operator hangs up (seat1's leg ends through ARI), once the call has lasted
        MIN_CALL_SECONDS; the hotline then ends the citizen's side and SIPp exits cleanly."""
        left = self.started + MIN_CALL_SECONDS - time.monotonic()
        if left > 0:
            await asyncio.sleep(left)  # a call of a chosen length, not a wait for a condition
        leg = next(leg for leg in hotline.controller.legs.values() if leg.call_id == call_id and leg.seat == "seat1")
        await hotline.controller.ari.hangup(leg.channel_id)
        code = await asyncio.to_thread(self.proc.wait, 60)
        assert code == 0, self.errors_path.read_text(errors="replace")[-800:]

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self._errors.close()


async def _shot(page: Any, name: str) -> None:
    await page.screenshot(path=str(OUTPUT / f"desk-e2e-{name}.png"), full_page=True)


async def _live_call_shown(operator: Any, hotline: Hotline, not_call: str = "") -> str:
    """The operator's page shows a live call (another than `not_call`) from the citizen,
    seat1 talking to it (not still ringing); returns its call id."""
    selector = "#current[data-live=yes]" + (f':not([data-call-id="{not_call}"])' if not_call else "")
    await operator.wait_for_selector(f'{selector} #call-phase:text-is("通话中")', timeout=WAIT * 2)
    call_id = str(await operator.get_attribute("#current", "data-call-id"))
    assert await operator.inner_text("#call-number") == CITIZEN
    assert hotline.controller.seats["seat1"].state is SeatState.TALKING
    return call_id


def _still_live(hotline: Hotline, citizen: Citizen, call_id: str) -> None:
    assert citizen.on_line(), "the citizen hung up before the operator was done"
    assert call_id in hotline.controller.calls, "the call ended before the operator was done"
    assert hotline.controller.seats["seat1"].state is SeatState.TALKING


async def test_a_live_call_becomes_a_ticket_the_next_is_linked_the_unit_replies_with_a_pdf_the_supervisor_sees_it_all(
        asterisk: RunningAsterisk, tmp_path: Path) -> None:
    OUTPUT.mkdir(exist_ok=True)
    pdf = tmp_path / "路灯维修记录.pdf"
    pdf.write_bytes(PDF)
    async with hotline_for(asterisk.env | FAST, tmp_path) as hotline:
        settings = hotline.settings
        add_unit_user(settings.paths.state_dir, "zezhou-browser", "zezhou", load_directory(units_file(settings)))
        port = free_port((socket.SOCK_STREAM,))
        async with web_running(settings, hotline.services, hotline.controller, bind="127.0.0.1", port=port) as url, \
                chromium() as browser:
            passwords = read_generated_passwords(settings.paths.state_dir)
            operator = await browser_log_in(browser, url, "seat1", passwords["seat1"])
            assert operator.url.endswith("/operator")

            with SeatPhone(settings, "seat1", hotline.workdir, answer_after_ms=200):
                await hotline.seat_registered("seat1", timeout=20)

                # 1. The first call: a ticket written in the form while the citizen is on the line.
                citizen = Citizen(hotline, "first-call")
                try:
                    first_id = await _live_call_shown(operator, hotline)
                    await operator.click("#open-ticket")
                    await operator.wait_for_selector(f'#ticket-panel[data-call-id="{first_id}"]:not([hidden])')
                    assert await operator.input_value("#ticket-contact") == CITIZEN  # the caller's number
                    await operator.select_option("#ticket-category", "complaint")
                    await operator.fill("#ticket-summary", SUMMARY)
                    await operator.locator("#ticket-unit-search").press_sequentially("泽州", delay=80)
                    await operator.click('.unit-option[data-code="zezhou"]', timeout=WAIT)
                    await operator.wait_for_selector('#ticket-unit-picked.chosen:has-text("泽州县人民政府")')
                    await operator.fill("#ticket-name", "李女士")
                    await operator.fill("#ticket-address", "泽州县金村镇")
                    _still_live(hotline, citizen, first_id)
                    await operator.click("#save-ticket")
                    saved = operator.locator("#ticket-saved:not([hidden])")
                    await saved.wait_for(timeout=WAIT)
                    match = re.search(r"已留单，工单编号 #(\d+)（泽州县人民政府）", await saved.inner_text())
                    assert match, await saved.inner_text()
                    ticket_id = int(match.group(1))
                    _still_live(hotline, citizen, first_id)  # written during the call
                    await _shot(operator, "1-operator-ticket")
                    await citizen.hung_up_by_hotline(hotline, first_id)
                finally:
                    citizen.stop()
                await operator.wait_for_selector(f'#current[data-call-id="{first_id}"][data-live=no]', timeout=WAIT)
                await hotline.seats_free(timeout=30)

                # 2. The same number again: the form offers that ticket; the call is linked to it.
                citizen = Citizen(hotline, "second-call")
                try:
                    second_id = await _live_call_shown(operator, hotline, not_call=first_id)
                    await operator.click("#open-ticket")
                    await operator.wait_for_selector(f'#ticket-panel[data-call-id="{second_id}"]:not([hidden])')
                    await operator.fill("#ticket-summary", "路灯还是不亮")
                    offered = operator.locator(f'#similar li[data-ticket-id="{ticket_id}"]')
                    await offered.wait_for(timeout=WAIT)
                    assert await operator.locator("#similar li").count() == 1
                    assert await offered.locator(".reason.same").inner_text() == "同一号码"
                    assert "路灯" in await offered.locator(".snippet").inner_text()
                    await _shot(operator, "2-operator-similar")
                    _still_live(hotline, citizen, second_id)
                    await offered.locator("button.link-call").click()
                    await operator.wait_for_selector(
                        f'#ticket-saved:not([hidden]):has-text("本通电话已关联到工单 #{ticket_id}")', timeout=WAIT)
                    _still_live(hotline, citizen, second_id)
                    await _shot(operator, "3-operator-linked")
                    await citizen.hung_up_by_hotline(hotline, second_id)
                finally:
                    citizen.stop()
                # The seat's recent calls carry the ticket. The list lists ended calls only and is
                # read again on a new call or a save, not when the call on the seat ends: reload.
                await operator.wait_for_selector(f'#current[data-call-id="{second_id}"][data-live=no]', timeout=WAIT)
                await operator.reload()
                for call_id in (first_id, second_id):
                    await operator.wait_for_selector(
                        f'#recent tr[data-call-id="{call_id}"]:has-text("已留单 #{ticket_id}")', timeout=WAIT)
            rows = {str(row["call_id"]): row for row in await hotline.settled()}  # recordings closed, measured
            assert set(rows) == {first_id, second_id}, rows
            assert all(row["outcome"] == "answered" and row["seat"] == "seat1" for row in rows.values()), rows

            # 3. The supervisor forwards it from the ticket's page.
            supervisor = await browser_log_in(browser, url, "supervisor", passwords["supervisor"])
            await supervisor.goto(f"{url}/tickets")
            listed = f'#tickets tr[data-ticket-id="{ticket_id}"]'
            await supervisor.wait_for_selector(listed, timeout=WAIT)
            assert await supervisor.inner_text(f"{listed} td:nth-child(10)") == "2"  # both calls (column 来电)
            await supervisor.click(f"{listed} a.open-ticket")
            await supervisor.wait_for_selector('#timeline li[data-kind="linked"]', timeout=WAIT)
            await supervisor.fill("#forward-note", "请核实处理")
            await supervisor.click("#do-forward")
            await supervisor.wait_for_selector('#move-status:has-text("已转办给 泽州县人民政府")', timeout=WAIT)
            await supervisor.wait_for_selector('#timeline li[data-kind="forwarded"]')
            answer = await supervisor.request.get(f"{url}/api/tickets/{ticket_id}")
            assert answer.ok
            deadline = str((await answer.json())["ticket"]["deadline"])[:10]
            assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", deadline), deadline

            # The desk's list, live, waits for the unit's reply; a marker tells a reload.
            await supervisor.goto(f"{url}/tickets")
            await supervisor.wait_for_selector('body[data-live="yes"]', timeout=WAIT)
            await supervisor.wait_for_selector(f'{listed}:has-text("已转办")', timeout=WAIT)
            assert await supervisor.locator(f'#done li[data-ticket-id="{ticket_id}"]').count() == 0
            await supervisor.evaluate("() => { window.deskMarker = 'not reloaded'; }")

            # 4. The unit sees it with its deadline, opens it and replies with a PDF.
            unit = await browser_log_in(browser, url, "zezhou-browser",
                                        read_generated_passwords(settings.paths.state_dir)["zezhou-browser"])
            assert unit.url.endswith("/unit")
            mine = f'#tickets tr[data-ticket-id="{ticket_id}"]'
            await unit.wait_for_selector(mine, timeout=WAIT)
            assert await unit.locator("#tickets tbody tr").count() == 1
            row_text = await unit.inner_text(mine)
            assert "剩余7个工作日" in row_text and deadline in row_text and SUMMARY in row_text, row_text
            await _shot(unit, "4-unit-list")
            await unit.click(f"{mine} a")
            await unit.wait_for_url(f"**/unit/tickets/{ticket_id}")
            await unit.wait_for_selector("#reply-panel:not([hidden])", timeout=WAIT)
            facts = await unit.inner_text("#facts")
            assert CITIZEN in facts and "李女士" in facts and "剩余7个工作日" in facts, facts
            await unit.fill("#reply-text", REPLY)
            await unit.set_input_files("#reply-files", str(pdf))
            await unit.click("#reply-submit")
            await unit.wait_for_selector('#action-done:not([hidden]):has-text("已答复，附件 1 个")', timeout=WAIT)
            await unit.wait_for_selector(f'#attachments li:has-text("{pdf.name}")', timeout=WAIT)
            await unit.wait_for_selector("#reply-panel[hidden]", state="attached")
            await _shot(unit, "5-unit-replied")

            # 5. The reply reaches the supervisor's 已办理 panel by itself.
            done = supervisor.locator(f'#done li[data-ticket-id="{ticket_id}"]')
            await done.wait_for(timeout=WAIT)
            assert await done.get_attribute("class") == "fresh"
            assert REPLY in await done.inner_text() and "泽州县人民政府" in await done.inner_text()
            await supervisor.wait_for_selector(f'{listed}:has-text("已答复")', timeout=WAIT)
            assert await supervisor.evaluate("() => window.deskMarker") == "not reloaded"
            await _shot(supervisor, "6-supervisor-done")

            # 6. The ticket's page: the whole history, both recordings playable, the attachment.
            await done.locator(f'a[href="/tickets/{ticket_id}"]').click()
            await supervisor.wait_for_url(f"**/tickets/{ticket_id}")
            await supervisor.wait_for_selector('#timeline li[data-kind="replied"]', timeout=WAIT)
            steps = await supervisor.eval_on_selector_all(
                "#timeline li", "items => items.map(li => [li.dataset.kind, li.querySelector('strong').textContent,"
                                " li.querySelector('.detail').textContent])")
            assert [(kind, text) for kind, text, _ in steps] == [
                ("created", "话务员留单"), ("linked", "关联来电"), ("forwarded", "审核转办"),
                ("attached", "上传附件"), ("replied", "承办单位答复")], steps
            assert steps[0][2] == "承办单位 泽州县人民政府 · 来源 电话" and steps[1][2] == "来电 1 通", steps
            assert steps[2][2] == "转至 泽州县人民政府 · 请核实处理", steps
            assert steps[4][2] == f"泽州县人民政府：{REPLY}", steps
            assert "已答复" in await supervisor.inner_text("#ticket-state")
            assert REPLY in await supervisor.inner_text("#reply-facts")
            calls = supervisor.locator("#calls .linked-call")
            assert await calls.count() == 2
            shown = {str(await calls.nth(i).get_attribute("data-call-id")) for i in range(2)}
            assert shown == {first_id, second_id}
            for call_id in (first_id, second_id):
                player = f'#calls .linked-call[data-call-id="{call_id}"] audio.recording'
                await supervisor.wait_for_function(
                    "selector => { const a = document.querySelector(selector); return a && a.readyState >= 1; }",
                    arg=player, timeout=WAIT)
                duration = float(await supervisor.eval_on_selector(player, "audio => audio.duration"))
                recorded = float(str(rows[call_id]["recording_seconds"]))
                assert duration > 3 and abs(duration - recorded) < 0.2, (call_id, duration, recorded)
            # The reply's file is listed on the page, and its link serves the unit's bytes.
            link = supervisor.locator("#attachments li a")
            assert await link.count() == 1 and await link.inner_text() == pdf.name
            assert steps[3][2] == pdf.name, steps  # the upload's line names the file
            served = await supervisor.request.get(url + str(await link.get_attribute("href")))
            assert served.ok and await served.body() == PDF
            await _shot(supervisor, "7-supervisor-ticket")

"""The desk's written channels in a real browser (Debian's chromium, Playwright; a fake
floor, the real console): the 待答复 list marks an SMS left past its 3 minutes 已超时 and
shows each ticket's channel; the supervisor opens a mailbox ticket from the list, reads the
citizen's letter (escaped), responds, and the response appears in the thread while the
ticket leaves the list; a forum post's link is a link only when http(s); a letter typed
in on the desk's form joins the list.
Screenshots go to test-output/desk-channels-*.png."""

from __future__ import annotations

import time
from pathlib import Path

from callcenter.store import Store
from callcenter.tickets import WrittenMessage
from callcenter.vocabulary import Channel
from tests.web_helpers import OUTPUT, FakeFloor, browser_log_in, chromium, console_running, console_settings

WAIT = 30_000  # ms: generous for a loaded two-core machine
LETTER = "小区<b>路灯</b>不亮三天了"
RESPONSE = "您的来信已收到，已转交泽州县办理。"


async def test_the_supervisor_sees_a_late_sms_and_answers_a_mailbox_letter_from_the_desk(tmp_path: Path) -> None:
    OUTPUT.mkdir(exist_ok=True)
    settings = console_settings(tmp_path)
    async with Store(settings.paths.database) as store, \
            console_running(settings, FakeFloor(settings, store)) as console, chromium() as browser:
        console.clock[0] = time.time()
        tickets = console.services.tickets
        late_sms = await tickets.take_in(WrittenMessage(channel=Channel.SMS, body="路口红绿灯坏了",
                                                        received_epoch=time.time() - 181, contact_number="13912345678"))
        letter = await tickets.take_in(WrittenMessage(channel=Channel.MAILBOX, body=LETTER, citizen_name="李女士",
                                                      received_epoch=time.time() - 3600))
        page = await browser_log_in(browser, console.url, "supervisor", console.passwords["supervisor"])
        await page.goto(f"{console.url}/tickets")
        sms_item = page.locator(f"#awaiting li[data-ticket-id='{late_sms}']")
        await sms_item.locator(".standing", has_text="已超时").wait_for(timeout=WAIT)
        assert await sms_item.locator(".channel").inner_text() == "短信"
        row = page.locator(f"#tickets tr[data-ticket-id='{letter}']")
        await row.wait_for(timeout=WAIT)
        assert await row.locator("td.channel").inner_text() == "市长信箱"
        await page.select_option("#channel", "mailbox")
        await page.click("#filter-button")
        await page.locator(f"#tickets tr[data-ticket-id='{late_sms}']").wait_for(state="detached", timeout=WAIT)
        await page.screenshot(path=str(OUTPUT / "desk-channels-list.png"))

        await page.click(f"#awaiting li[data-ticket-id='{letter}'] a")
        thread = page.locator("#messages")
        await thread.locator("li[data-direction='in'] .message-body").wait_for(timeout=WAIT)
        assert await thread.locator("li[data-direction='in'] .message-body").inner_text() == LETTER
        assert await thread.locator("b").count() == 0  # the letter is shown as text, never as markup
        assert "市长信箱" in await page.locator("#facts").inner_text()
        await page.fill("#respond-text", RESPONSE)
        await page.click("#do-respond")
        await thread.locator("li[data-direction='out'] .message-body", has_text=RESPONSE).wait_for(timeout=WAIT)
        assert "supervisor" in await thread.locator("li[data-direction='out'] .who").inner_text()
        assert "已留存" in await thread.locator("li[data-direction='out']").inner_text()  # kept for the status page
        await page.screenshot(path=str(OUTPUT / "desk-channels-ticket.png"))

        await page.goto(f"{console.url}/tickets")
        await sms_item.wait_for(timeout=WAIT)
        assert await page.locator(f"#awaiting li[data-ticket-id='{letter}']").count() == 0

        # a forum post's address is a link only when it is http(s)
        forum = await tickets.take_in(WrittenMessage(channel=Channel.FORUM, body="帖子", title="路灯",
                                                     link="https://bbs.example.cn/thread/1"))
        hostile = await tickets.take_in(WrittenMessage(channel=Channel.FORUM, body="帖子", link="javascript:alert(1)"))
        await page.goto(f"{console.url}/tickets/{forum}")
        link = page.locator("#source-link")
        await link.wait_for(timeout=WAIT)
        assert await link.get_attribute("href") == "https://bbs.example.cn/thread/1"
        assert await link.get_attribute("rel") == "noopener noreferrer"
        await page.goto(f"{console.url}/tickets/{hostile}")
        await page.locator("#facts", has_text="javascript:alert(1)").wait_for(timeout=WAIT)
        assert await page.locator("#source-link").count() == 0

        await page.goto(f"{console.url}/tickets")
        # a letter typed in by hand joins the 待答复 list by itself (the feed)
        await page.click("#entry-panel summary")
        await page.select_option("#entry-channel", "mailbox")
        await page.fill("#entry-summary", "来信：工地夜间施工扰民")
        await page.click("#entry-submit")
        await page.locator("#entry-status", has_text="已录入工单").wait_for(timeout=WAIT)
        typed = int((await page.locator("#entry-status").inner_text()).rsplit("#", 1)[1])
        await page.locator(f"#awaiting li[data-ticket-id='{typed}']").wait_for(timeout=WAIT)

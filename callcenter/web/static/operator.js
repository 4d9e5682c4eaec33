// The operator's seat: the call on it now (or the last one), the caller's history, the summary form.
"use strict";

(() => {
  const { api, el, fill, label, duration, dateTime, say } = hotline;
  const seatStatus = document.getElementById("seat-status");
  const summaryStatus = document.getElementById("summary-status");
  const category = document.getElementById("category");
  const summary = document.getElementById("summary");
  let shownCallId = null;

  function showSeat(seat) {
    const state = seat.paused ? `暂停（${seat.pause_reason || "无原因"}）`
      : seat.registered ? label(hotline.SEAT_STATES, seat.call && seat.call.phase === "talking" ? "talking" : seat.state)
        : "话机未注册";
    document.getElementById("seat-state").textContent = state;
    document.getElementById("seat-bar").dataset.paused = seat.paused ? "yes" : "no";
  }

  function showCall(call, earlier) {
    document.getElementById("no-call").hidden = Boolean(call);
    document.getElementById("call-card").hidden = !call;
    if (!call) { shownCallId = null; return; }
    const card = document.getElementById("current");
    card.dataset.callId = call.call_id;
    card.dataset.live = call.live ? "yes" : "no";
    document.getElementById("call-heading").textContent = call.live ? "当前来电" : "上一通来电（可补充小结）";
    document.getElementById("call-number").textContent = call.caller_number || "（隐藏号码）";
    document.getElementById("call-name").textContent = call.caller_name || "";
    document.getElementById("call-flagged").hidden = !call.flagged;
    document.getElementById("call-phase").textContent = call.live ? label(hotline.PHASES, call.phase)
      : label(hotline.OUTCOMES, call.outcome, "已结束");
    document.getElementById("call-arrived").textContent = dateTime(call.arrived);
    document.getElementById("call-menu-category").textContent = label(hotline.CATEGORIES, call.menu_category, "未选择");
    if (call.call_id !== shownCallId) {
      // Only a new call resets the form: a poll must never wipe what the operator is typing.
      shownCallId = call.call_id;
      category.value = (call.summary && call.summary.category) || call.category || "consultation";
      summary.value = (call.summary && call.summary.summary) || "";
      say(summaryStatus, call.summary ? `已保存（${call.summary.by}）` : "");
    }
    fill(document.querySelector("#earlier tbody"), earlier.map((c) => el("tr", { dataset: { callId: c.call_id } },
      el("td", {}, dateTime(c.arrived)), el("td", {}, label(hotline.OUTCOMES, c.outcome, "进行中")),
      el("td", {}, label(hotline.CATEGORIES, c.category, "未分类")), el("td", {}, c.seat || "–"),
      el("td", {}, duration(c.talk_seconds)))));
    document.getElementById("earlier-empty").hidden = earlier.length > 0;
  }

  async function refresh() {
    try {
      const data = await api("GET", "/api/operator/now");
      showSeat(data.seat);
      showCall(data.call, data.earlier_calls);
    } catch (e) {
      say(seatStatus, e.message, true);
    }
  }

  document.getElementById("summary-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    if (!shownCallId) return;
    try {
      await api("POST", `/api/calls/${encodeURIComponent(shownCallId)}/summary`,
        { category: category.value, summary: summary.value });
      say(summaryStatus, "已保存");
    } catch (e) {
      say(summaryStatus, e.message, true);
    }
  });
  document.getElementById("mark-nuisance").addEventListener("click", async () => {
    if (!shownCallId) return;
    try {
      const data = await api("POST", `/api/calls/${encodeURIComponent(shownCallId)}/nuisance`);
      say(summaryStatus, data.flagged ? "已标记，该号码已列入骚扰号码" : "已标记为骚扰电话");
    } catch (e) {
      say(summaryStatus, e.message, true);
    }
  });
  for (const [id, paused] of [["pause", true], ["unpause", false]]) {
    document.getElementById(id).addEventListener("click", async () => {
      try {
        await api("POST", "/api/operator/pause", { paused, reason: document.getElementById("pause-reason").value });
        say(seatStatus, paused ? "已暂停接听" : "已恢复接听");
        setTimeout(refresh, 1200);
      } catch (e) {
        say(seatStatus, e.message, true);
      }
    });
  }
  refresh();
  setInterval(refresh, 1000);
})();

// Nuisance numbers: the flags in force (clear one), flag a number by hand, a number's history.
"use strict";

(() => {
  const { api, el, fill, label, dateTime, epochDateTime, duration, say } = hotline;
  const flagsBody = document.querySelector("#flags tbody");
  const flagStatus = document.getElementById("flag-status");

  async function loadFlags() {
    try {
      const data = await api("GET", "/api/nuisance");
      fill(flagsBody, data.flags.map((flag) => el("tr", { dataset: { number: flag.number } },
        el("td", {}, el("a", { href: "#", onclick: (e) => { e.preventDefault(); showHistory(flag.number); } },
          flag.number)),
        el("td", {}, label(hotline.RULES, flag.rule)), el("td", {}, flag.reason), el("td", {}, flag.by),
        el("td", {}, epochDateTime(flag.flagged_at)), el("td", {}, epochDateTime(flag.expires_at)),
        el("td", {}, el("button", { type: "button", class: "danger", onclick: () => clearFlag(flag.number) }, "解除")))));
      document.getElementById("flags-empty").hidden = data.flags.length > 0;
    } catch (e) {
      say(flagStatus, e.message, true);
    }
  }

  async function clearFlag(number) {
    try {
      await api("POST", "/api/nuisance/clear", { number, reason: "主管解除" });
      say(flagStatus, `${number} 已解除标记`);
      await loadFlags();
      await showHistory(number);
    } catch (e) {
      say(flagStatus, e.message, true);
    }
  }

  async function showHistory(number) {
    document.getElementById("history-number").value = number;
    try {
      const data = await api("GET", `/api/nuisance/history?${new URLSearchParams({ number })}`);
      fill(document.querySelector("#history tbody"), data.events.map((event) => el("tr", {},
        el("td", {}, dateTime(event.at)), el("td", {}, label(hotline.NUISANCE_ACTIONS, event.action)),
        el("td", {}, label(hotline.RULES, event.rule)), el("td", {}, event.reason || ""), el("td", {}, event.by || ""))));
      fill(document.querySelector("#history-calls tbody"), data.calls.map((call) => el("tr", {},
        el("td", {}, el("a", { href: `/calls/${encodeURIComponent(call.call_id)}` }, dateTime(call.arrived))),
        el("td", {}, label(hotline.OUTCOMES, call.outcome, "进行中")),
        el("td", {}, label(hotline.CATEGORIES, call.category, "未分类")), el("td", {}, call.seat || "–"),
        el("td", {}, duration(call.talk_seconds)))));
    } catch (e) {
      say(flagStatus, e.message, true);
    }
  }

  document.getElementById("flag-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const number = document.getElementById("flag-number").value.trim();
    const reason = document.getElementById("flag-reason").value.trim();
    try {
      await api("POST", "/api/nuisance/flag", { number, reason });
      say(flagStatus, `${number} 已标记`);
      await loadFlags();
    } catch (e) {
      say(flagStatus, e.message, true);
    }
  });
  document.getElementById("history-form").addEventListener("submit", (event) => {
    event.preventDefault();
    showHistory(document.getElementById("history-number").value.trim());
  });
  loadFlags();
})();

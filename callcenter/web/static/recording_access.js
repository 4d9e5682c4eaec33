// The recording access log (录音调阅记录): who played or downloaded which recording, newest first.
"use strict";

(() => {
  const { api, el, fill, label, dateTime, say, pager } = hotline;
  const form = document.getElementById("search");
  const body = document.querySelector("#access tbody");
  const status = document.getElementById("access-status");
  const pages = pager("条", () => load());

  async function load() {
    const params = pages.query(form);
    say(status, "查询中…");
    try {
      const data = await api("GET", `/api/recordings/access?${params}`);
      fill(body, data.entries.map((entry) => el("tr", { dataset: { user: entry.user, callId: entry.call_id } },
        el("td", {}, dateTime(entry.at)), el("td", {}, entry.user), el("td", {}, entry.role_label),
        el("td", {}, label(hotline.RECORDING_USES, entry.kind)),
        el("td", {}, el("a", { href: `/calls/${encodeURIComponent(entry.call_id)}` }, entry.call_id)),
        el("td", {}, entry.recording), el("td", {}, entry.address || "–"))));
      pages.show(data);
      say(status, data.total ? "" : "没有符合条件的调阅记录");
    } catch (e) {
      say(status, e.message, true);
    }
  }

  form.addEventListener("submit", (event) => { event.preventDefault(); pages.first(); load(); });
  load();
})();

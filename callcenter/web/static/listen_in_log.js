// The log of live supervision (监听记录): who listened, whispered or barged into which call, newest first.
"use strict";

(() => {
  const { api, el, fill, dateTime, say, pager } = hotline;
  const form = document.getElementById("search");
  const body = document.querySelector("#listen-in-log tbody");
  const status = document.getElementById("log-status");
  const pages = pager("条", () => load());

  async function load() {
    const params = pages.query(form);
    say(status, "查询中…");
    try {
      const data = await api("GET", `/api/listen-in/log?${params}`);
      const { modes, end_reasons: reasons } = data.labels;
      fill(body, data.entries.map((entry) => el("tr", { dataset: { supervisor: entry.supervisor, mode: entry.mode } },
        el("td", {}, dateTime(entry.requested)), el("td", {}, entry.supervisor), el("td", {}, entry.seat),
        el("td", {}, modes[entry.mode] || entry.mode),
        el("td", {}, el("a", { href: `/calls/${encodeURIComponent(entry.call_id)}` }, entry.call_id)),
        el("td", {}, entry.started ? dateTime(entry.started) : "未接通"),
        el("td", {}, entry.ended ? dateTime(entry.ended) : "进行中"),
        el("td", {}, entry.end_reason ? (reasons[entry.end_reason] || entry.end_reason) : "–"))));
      pages.show(data);
      say(status, data.total ? "" : "没有符合条件的监听记录");
    } catch (e) {
      say(status, e.message, true);
    }
  }

  form.addEventListener("submit", (event) => { event.preventDefault(); pages.first(); load(); });
  load();
})();

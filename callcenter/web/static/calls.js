// The call log: search by date range, number, seat, outcome and category; a page at a time.
"use strict";

(() => {
  const { api, el, fill, label, duration, dateTime, say, pager } = hotline;
  const form = document.getElementById("search");
  const body = document.querySelector("#calls tbody");
  const status = document.getElementById("calls-status");
  const perPage = 20;
  const pages = pager("通", () => load());

  const today = document.body.dataset.today;
  document.getElementById("from").value = today;
  document.getElementById("to").value = today;

  // The export links carry the filters of the list on screen (not the page: every matching call).
  const exports = document.getElementById("exports");
  const exportHint = document.getElementById("export-hint");
  const maxRows = Number(exports.dataset.maxRows) || 0;
  const exportLinks = { csv: document.getElementById("export-csv"), xlsx: document.getElementById("export-xlsx") };

  function filters() {
    const params = new URLSearchParams();
    for (const [key, value] of new FormData(form)) if (value) params.set(key, value);
    return params;
  }

  function pointExports(params, total) {
    for (const [format, link] of Object.entries(exportLinks)) {
      const query = new URLSearchParams(params);
      query.set("format", format);
      link.href = `/api/calls/export?${query}`;
    }
    const tooMany = maxRows > 0 && total > maxRows;
    exports.hidden = tooMany;
    exportHint.hidden = !tooMany;
    exportHint.textContent = tooMany ? `共 ${total} 通，超过导出上限 ${maxRows} 行，请缩小查询范围` : "";
  }

  async function load() {
    const shown = filters();
    const params = new URLSearchParams(shown);
    pointExports(shown, 0);
    params.set("page", String(pages.page));
    params.set("per_page", String(perPage));
    say(status, "查询中…");
    try {
      const data = await api("GET", `/api/calls?${params}`);
      fill(body, data.calls.map((call) => el("tr", { dataset: { callId: call.call_id, number: call.caller_number || "" } },
        el("td", {}, el("a", { href: `/calls/${encodeURIComponent(call.call_id)}`, class: "open-call" },
          dateTime(call.arrived))),
        el("td", {}, call.caller_number || "（隐藏号码）"), el("td", {}, call.caller_name || ""),
        el("td", {}, label(hotline.OUTCOMES, call.outcome, "进行中")),
        el("td", {}, label(hotline.CATEGORIES, call.category, "未分类")), el("td", {}, call.seat || "–"),
        el("td", { class: "operator" }, hotline.operatorText(call.operator, call.operator_name) || "–"),
        el("td", {}, duration(call.wait_seconds)), el("td", {}, duration(call.talk_seconds)),
        el("td", {}, hotline.recordingFailed(call) ? "录音失败"
          : call.has_recording ? duration(call.recording_seconds) : (call.recording_pruned ? "已过期删除" : "无")))));
      pointExports(shown, data.total);
      pages.show(data);
      say(status, data.total ? "" : "没有符合条件的通话");
    } catch (e) {
      say(status, e.message, true);
    }
  }

  form.addEventListener("submit", (event) => { event.preventDefault(); pages.first(); load(); });
  load();
})();

// The briefing (简报): pick a month or a year; the report's own HTML page is shown in the
// sandboxed frame, and its JSON and HTML can be downloaded.
"use strict";

(() => {
  const { say } = hotline;
  const form = document.getElementById("pick");
  const kind = document.getElementById("kind");
  const month = document.getElementById("month");
  const year = document.getElementById("year");
  const monthField = document.getElementById("month-field");
  const yearField = document.getElementById("year-field");
  const frame = document.getElementById("report-frame");
  const status = document.getElementById("report-status");
  const downloads = { json: document.getElementById("download-json"), html: document.getElementById("download-html") };
  const ENDPOINTS = { monthly: "/api/reports/monthly", yearly: "/api/reports/yearly" };

  // The briefing is made after the month ends: last month by default, last year for the summary.
  const today = document.body.dataset.today || new Date().toISOString().slice(0, 10);
  const [thisYear, thisMonth] = today.split("-").map(Number);
  const last = thisMonth === 1 ? [thisYear - 1, 12] : [thisYear, thisMonth - 1];
  month.value = `${last[0]}-${String(last[1]).padStart(2, "0")}`;
  year.value = String(thisYear - 1);

  function choice() {
    if (kind.value === "yearly") {
      return /^\d{4}$/.test(year.value) ? { kind: "yearly", key: "year", value: year.value } : null;
    }
    return /^\d{4}-\d{2}$/.test(month.value) ? { kind: "monthly", key: "month", value: month.value } : null;
  }

  function url(picked, format, download) {
    const query = new URLSearchParams({ [picked.key]: picked.value, format });
    if (download) query.set("download", "1");
    return `${ENDPOINTS[picked.kind]}?${query}`;
  }

  function show() {
    const picked = choice();
    if (!picked) {
      say(status, kind.value === "yearly" ? "请输入四位年份，如 2008" : "请选择月份", true);
      return;
    }
    for (const [format, link] of Object.entries(downloads)) link.href = url(picked, format, true);
    frame.src = url(picked, "html", false);
    const [y, m] = picked.value.split("-");
    say(status, picked.kind === "yearly" ? `${y}年 年度简报` : `${y}年${Number(m)}月 简报`);
  }

  function fit() {
    // The frame takes the rest of the window (a 1366x768 screen shows the first charts).
    const top = frame.getBoundingClientRect().top + window.scrollY;
    frame.style.height = `${Math.max(320, window.innerHeight - top - 16)}px`;
  }

  kind.addEventListener("change", () => {
    monthField.hidden = kind.value !== "monthly";
    yearField.hidden = kind.value !== "yearly";
    show();
  });
  form.addEventListener("submit", (event) => { event.preventDefault(); show(); });
  window.addEventListener("resize", fit);
  fit();
  show();
})();

// Shared by every page: the API call (with the CSRF token), safe DOM building, Chinese labels.
"use strict";

const hotline = (() => {
  const csrf = document.querySelector('meta[name="csrf-token"]')?.content || "";

  async function api(method, path, body) {
    const init = { method, headers: { Accept: "application/json" }, credentials: "same-origin" };
    if (method !== "GET") init.headers["X-CSRF-Token"] = csrf;
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    const response = await fetch(path, init);
    if (response.status === 401) {
      location.href = "/login";
      throw new Error("登录已过期，请重新登录");
    }
    let data = null;
    try { data = await response.json(); } catch (e) { data = null; }
    if (!response.ok) {
      const error = new Error((data && data.error) || `请求失败（HTTP ${response.status}）`);
      error.status = response.status; // a page may tell "not here (404)" from other refusals
      throw error;
    }
    return data;
  }

  // Text always goes in as text: a caller's name is never parsed as HTML.
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (key === "class") node.className = value;
      else if (key === "dataset") Object.assign(node.dataset, value);
      else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else node.setAttribute(key, value === true ? "" : String(value));
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  function fill(tbody, rows) {
    tbody.replaceChildren(...rows);
  }

  // The labels come from the server's vocabulary (the JSON block in every page).
  const LABELS = JSON.parse(document.getElementById("labels")?.textContent || "{}");
  const OUTCOMES = LABELS.outcomes || {};
  const RECORDING_STATUSES = LABELS.recording_statuses || {};
  const CATEGORIES = LABELS.categories || {};
  const SEAT_STATES = LABELS.seat_states || {};
  const PHASES = LABELS.phases || {};
  const EVENTS = LABELS.events || {};
  const SHIFTS = LABELS.shifts || {};
  const NUISANCE_ACTIONS = LABELS.nuisance_actions || {};
  const RULES = LABELS.rules || {};
  const THREE_WAY = LABELS.three_way || {};
  const RECORDING_USES = LABELS.recording_uses || {};

  // A call whose recording was not made, or was cut short (a full disk): 录音失败.
  function recordingFailed(call) {
    return Boolean(call.recording_status) && call.recording_status !== "ok";
  }

  function label(map, key, fallback = "–") {
    if (key === null || key === undefined || key === "") return fallback;
    return map[key] || key;
  }

  function duration(seconds) {
    if (seconds === null || seconds === undefined || Number.isNaN(Number(seconds))) return "–";
    const total = Math.max(0, Math.round(Number(seconds)));
    const h = Math.floor(total / 3600), m = Math.floor((total % 3600) / 60), s = total % 60;
    const mm = String(m).padStart(h ? 2 : 1, "0"), ss = String(s).padStart(2, "0");
    return h ? `${h}:${mm}:${ss}` : `${mm}:${ss}`;
  }

  // Stored times are local ISO with offset ("2026-11-28T21:35:12+08:00"): shown as written.
  function dateTime(iso) { return iso ? String(iso).slice(0, 19).replace("T", " ") : "–"; }
  function clock(iso) { return iso ? String(iso).slice(11, 19) : "–"; }
  function epochDateTime(epoch) {
    if (!epoch) return "–";
    const d = new Date(epoch * 1000);
    const p = (n) => String(n).padStart(2, "0");
    return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}`;
  }

  // A feed of ticket changes (/api/desk/ws, /api/unit/desk/ws): onChange(message) for
  // each {type: "ticket", ticket_id, kind}; reconnects with backoff, back to log-in on 4401.
  function ticketFeed(path, onChange) {
    let retry = 1000;
    function connect() {
      const scheme = location.protocol === "https:" ? "wss://" : "ws://";
      const socket = new WebSocket(`${scheme}${location.host}${path}`);
      socket.addEventListener("message", (event) => {
        let message;
        try { message = JSON.parse(event.data); } catch (e) { return; }
        if (message.type === "ready") { retry = 1000; document.body.dataset.live = "yes"; }
        else if (message.type === "ticket") onChange(message);
      });
      socket.addEventListener("close", (event) => {
        document.body.dataset.live = "no";
        if (event.code === 4401) { location.href = "/login"; return; }
        setTimeout(() => { onChange(null); connect(); }, retry);
        retry = Math.min(retry * 2, 30000);
      });
    }
    connect();
  }

  // The pager under a list (#previous, #page-info, #next): "第 p / n 页，共 t <unit>".
  // onTurn() loads the page now asked for (pager.page); first() goes back to page 1.
  function pager(unit, onTurn) {
    const info = document.getElementById("page-info");
    const previous = document.getElementById("previous");
    const next = document.getElementById("next");
    const state = {
      page: 1,
      first() { state.page = 1; },
      // A search form's filled fields and the page on screen, as the API's query.
      query(form) {
        const params = new URLSearchParams();
        for (const [key, value] of new FormData(form)) if (value) params.set(key, value);
        params.set("page", String(state.page));
        return params;
      },
      show(data) {
        const pages = Math.max(1, Math.ceil(data.total / data.per_page));
        info.textContent = `第 ${data.page} / ${pages} 页，共 ${data.total} ${unit}`;
        previous.disabled = state.page <= 1;
        next.disabled = state.page >= pages;
      },
    };
    previous.addEventListener("click", () => { state.page -= 1; onTurn(); });
    next.addEventListener("click", () => { state.page += 1; onTurn(); });
    return state;
  }

  // Who took a call: "李慧（工号 1003）", "工号 1003" without a name, "" for a call before operators.
  function operatorText(badge, name) {
    if (!badge) return "";
    return name ? `${name}（工号 ${badge}）` : `工号 ${badge}`;
  }

  function say(node, text, isError = false) {
    node.textContent = text;
    node.classList.toggle("error", isError);
  }

  return { api, el, fill, label, duration, dateTime, clock, epochDateTime, say, ticketFeed, pager, operatorText,
           OUTCOMES, RECORDING_STATUSES, CATEGORIES, SEAT_STATES, SHIFTS, PHASES, EVENTS, NUISANCE_ACTIONS, RULES,
           THREE_WAY, RECORDING_USES, recordingFailed };
})();

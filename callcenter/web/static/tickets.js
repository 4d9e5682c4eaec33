// The director's desk (工单管理): the ticket list with its filters, forwarding many at once,
// and the 已办理 panel; a WebSocket tells the page of every change, so both stay current.
"use strict";

(() => {
  const { api, el, fill, label, dateTime, say } = hotline;
  const LABELS = JSON.parse(document.getElementById("labels")?.textContent || "{}");
  const STATES = LABELS.ticket_states || {};
  const CHANNELS = LABELS.channels || {};
  const SECRET = (LABELS.confidential || {}).label || "";
  const form = document.getElementById("filters");
  const body = document.querySelector("#tickets tbody");
  const status = document.getElementById("tickets-status");
  const info = document.getElementById("page-info");
  const previous = document.getElementById("previous");
  const next = document.getElementById("next");
  const forwardButton = document.getElementById("forward-selected");
  const selectAll = document.getElementById("select-all");
  const bulkResult = document.getElementById("bulk-result");
  const liveState = document.getElementById("live-state");
  const perPage = 20;
  let page = 1;
  let shownIds = [];
  const selected = new Set();
  const fresh = new Set(); // replied since the page opened: highlighted in 已办理

  function days(ticket) {
    const left = ticket.working_days_left;
    if (left === null || left === undefined) return el("span", { class: "days" }, "–");
    if (left < 0) return el("span", { class: "days over" }, `超期${-left}个工作日`);
    if (ticket.overdue) return el("span", { class: "days over" }, "已超期");
    return el("span", { class: `days ${left <= 1 ? "soon" : ""}` }, `剩余${left}个工作日`);
  }

  function stateBadge(state) {
    return el("span", { class: `badge state-${state}` }, label(STATES, state));
  }

  function showSelection() {
    forwardButton.disabled = selected.size === 0;
    document.getElementById("selected-count").textContent = selected.size ? `已选 ${selected.size} 张` : "未选择工单";
    selectAll.checked = shownIds.length > 0 && shownIds.every((id) => selected.has(id));
  }

  async function load() {
    const params = new URLSearchParams();
    for (const [key, value] of new FormData(form)) if (value) params.set(key, value);
    params.set("page", String(page));
    params.set("per_page", String(perPage));
    try {
      const data = await api("GET", `/api/tickets?${params}`);
      shownIds = data.tickets.map((t) => t.ticket_id);
      fill(body, data.tickets.map((t) => el("tr", { class: t.overdue ? "overdue" : "", dataset: { ticketId: t.ticket_id } },
        el("td", {}, el("input", { type: "checkbox", class: "pick", "aria-label": `选择工单 ${t.ticket_id}`,
                                   checked: selected.has(t.ticket_id),
                                   onchange: (event) => {
                                     if (event.target.checked) selected.add(t.ticket_id); else selected.delete(t.ticket_id);
                                     showSelection();
                                   } })),
        // A confidential ticket's citizen is withheld from the list: only its logged page shows them.
        el("td", {}, el("a", { href: `/tickets/${t.ticket_id}`, class: "open-ticket" }, `#${t.ticket_id}`),
          t.confidential ? el("span", { class: "badge confidential" }, SECRET) : null),
        el("td", {}, dateTime(t.created).slice(0, 16)),
        el("td", { class: "channel" }, label(CHANNELS, t.channel)),
        el("td", {}, label(hotline.CATEGORIES, t.category)),
        el("td", { class: "summary", title: t.summary }, t.summary),
        el("td", {}, t.unit_name || t.unit),
        el("td", {}, stateBadge(t.state), t.returned_to ? el("span", { class: "hint" }, " 已退回") : null),
        el("td", {}, days(t)),
        el("td", {}, String(t.calls ?? 0)))));
      const pages = Math.max(1, Math.ceil(data.total / perPage));
      info.textContent = `第 ${data.page} / ${pages} 页，共 ${data.total} 张`;
      previous.disabled = page <= 1;
      next.disabled = page >= pages;
      document.getElementById("tickets-empty").hidden = data.total > 0;
      say(status, "");
      showSelection();
    } catch (e) {
      say(status, e.message, true);
    }
  }

  async function loadDone() {
    try {
      const data = await api("GET", "/api/tickets?state=replied&per_page=100");
      const rows = data.tickets.slice().sort((a, b) => (b.replied_epoch || 0) - (a.replied_epoch || 0)).slice(0, 20);
      document.getElementById("done").replaceChildren(...rows.map((t) => el("li",
        { class: fresh.has(t.ticket_id) ? "fresh" : "", dataset: { ticketId: t.ticket_id } },
        el("div", {}, el("a", { href: `/tickets/${t.ticket_id}` }, `#${t.ticket_id}`), " ",
          el("strong", {}, t.unit_name || t.unit), " ", el("span", { class: "hint" }, dateTime(t.replied).slice(5, 16))),
        el("p", { class: "reply-text", title: t.reply || "" }, t.reply || ""))));
      document.getElementById("done-empty").hidden = rows.length > 0;
    } catch (e) {
      say(status, e.message, true);
    }
  }

  // --- 待答复: written tickets no person has answered, soonest due first. Time left is
  // counted down here each second against the server's clock, so an SMS turns 已超时
  // without any change to the ticket; the list itself is read again on every change.
  let awaiting = { tickets: [], now: 0, nearing_share: 0.25, standing_labels: {} };
  let clockOffset = 0; // server's clock minus the browser's, seconds

  function left(seconds) {
    const s = Math.abs(Math.round(seconds));
    const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
    return h ? `${h}小时${m}分` : `${m}分${String(r).padStart(2, "0")}秒`;
  }

  function showAwaiting() {
    const now = Date.now() / 1000 + clockOffset;
    const words = awaiting.standing_labels || {};
    const rows = awaiting.tickets.map((t) => {
      const remaining = t.response_due_epoch - now;
      const limit = t.limit_seconds || 0;
      const standing = remaining < 0 ? "late" : (t.standing === "late" ? "late"
        : (remaining < limit * awaiting.nearing_share ? "nearing" : t.standing));
      return el("li", { class: `awaiting ${standing}`, dataset: { ticketId: t.ticket_id, standing } },
        el("div", {}, el("a", { href: `/tickets/${t.ticket_id}` }, `#${t.ticket_id}`), " ",
          el("span", { class: "badge channel" }, label(CHANNELS, t.channel)), " ",
          el("strong", { class: "standing" }, words[standing] || standing), " ",
          el("span", { class: "hint time-left" }, remaining < 0 ? `超时 ${left(remaining)}` : `剩余 ${left(remaining)}`)),
        el("p", { class: "reply-text", title: t.summary || "" }, t.summary || ""));
    });
    document.getElementById("awaiting").replaceChildren(...rows);
    document.getElementById("awaiting-empty").hidden = rows.length > 0;
  }

  async function loadAwaiting() {
    try {
      awaiting = await api("GET", "/api/tickets/awaiting-response");
      clockOffset = awaiting.now - Date.now() / 1000;
      showAwaiting();
    } catch (e) {
      say(status, e.message, true);
    }
  }
  setInterval(showAwaiting, 1000);
  setInterval(loadAwaiting, 60000); // a change made elsewhere with the feed down still shows

  // --- 录入工单: a ticket with no call, typed in by hand or from a letter (then its response is due)
  document.getElementById("entry-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const field = (id) => document.getElementById(id).value.trim();
    const entryStatus = document.getElementById("entry-status");
    const body = { channel: field("entry-channel"), category: field("entry-category"), summary: field("entry-summary"),
                   citizen_name: field("entry-name"), contact_number: field("entry-contact"),
                   address: field("entry-address") };
    if (body.channel === "manual") body.unit = field("entry-unit");
    try {
      const made = await api("POST", "/api/tickets", body);
      for (const id of ["entry-summary", "entry-name", "entry-contact", "entry-address", "entry-unit"]) {
        document.getElementById(id).value = "";
      }
      say(entryStatus, `已录入工单 #${made.ticket_id}`);
    } catch (e) {
      say(entryStatus, e.message, true);
    }
  });

  // The domain's refusals are terse English sentences: said again in Chinese where known.
  function why(reason) {
    const text = String(reason || "");
    let match = text.match(/merged into ticket (\d+)/);
    if (match) return `已并入工单 #${match[1]}`;
    match = text.match(/that is (\w+)/);
    if (match) return `当前状态为“${label(STATES, match[1])}”，不能转办`;
    if (text.startsWith("no ticket")) return "没有这张工单";
    return text;
  }

  forwardButton.addEventListener("click", async () => {
    const ids = [...selected];
    if (!ids.length) return;
    forwardButton.disabled = true;
    try {
      const outcome = await api("POST", "/api/tickets/forward", { ids });
      const lines = [];
      if (outcome.forwarded.length) {
        lines.push(el("li", { class: "ok" }, `已转办 ${outcome.forwarded.length} 张：`,
          outcome.forwarded.map((id) => `#${id}`).join("、")));
      }
      for (const failure of outcome.failed) {
        lines.push(el("li", { class: "error", dataset: { ticketId: failure.ticket_id } },
          `#${failure.ticket_id} 未能转办：${why(failure.reason)}`));
      }
      bulkResult.replaceChildren(el("ul", {}, lines));
      bulkResult.hidden = false;
      selected.clear();
      await load();
    } catch (e) {
      say(status, e.message, true);
      showSelection();
    }
  });

  selectAll.addEventListener("change", () => {
    for (const id of shownIds) if (selectAll.checked) selected.add(id); else selected.delete(id);
    for (const box of body.querySelectorAll("input.pick")) box.checked = selectAll.checked;
    showSelection();
  });
  form.addEventListener("submit", (event) => { event.preventDefault(); page = 1; selected.clear(); load(); });
  previous.addEventListener("click", () => { page -= 1; selected.clear(); load(); });
  next.addEventListener("click", () => { page += 1; selected.clear(); load(); });

  async function loadUnits() {
    try {
      const data = await api("GET", "/api/units");
      const select = document.getElementById("unit");
      select.append(...data.units.map((unit) => el("option", { value: unit.code }, unit.name)));
    } catch (e) {
      say(status, e.message, true);
    }
  }

  // --- live: a change anywhere reloads the list (bursts coalesced), a reply the 已办理 panel
  let reloadTimer = null;
  function changed(message) {
    if (message.kind === "replied") fresh.add(message.ticket_id);
    clearTimeout(reloadTimer);
    reloadTimer = setTimeout(() => { load(); loadDone(); loadAwaiting(); }, 250);
  }

  let retry = 1000;
  function connect() {
    const scheme = location.protocol === "https:" ? "wss://" : "ws://";
    const socket = new WebSocket(`${scheme}${location.host}/api/desk/ws`);
    socket.addEventListener("message", (event) => {
      let message;
      try { message = JSON.parse(event.data); } catch (e) { return; }
      if (message.type === "ready") {
        retry = 1000;
        liveState.textContent = "实时更新中";
        liveState.classList.remove("down");
        document.body.dataset.live = "yes";
      } else if (message.type === "ticket") {
        changed(message);
      }
    });
    socket.addEventListener("close", (event) => {
      document.body.dataset.live = "no";
      if (event.code === 4401) { location.href = "/login"; return; }
      liveState.textContent = "实时更新已断开，正在重连…";
      liveState.classList.add("down");
      setTimeout(() => { load(); loadDone(); loadAwaiting(); connect(); }, retry);
      retry = Math.min(retry * 2, 30000);
    });
  }

  loadUnits();
  load();
  loadDone();
  loadAwaiting();
  connect();
})();

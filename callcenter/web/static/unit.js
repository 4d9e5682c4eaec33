// A responsible unit's page: the tickets forwarded to it (GET /api/unit/tickets: only its
// own), overdue first, filtered by state; each opens its own page to be worked on.
"use strict";

(() => {
  // The link in a notice mail (/unit?ticket=N) opens that ticket's page.
  const wanted = new URLSearchParams(location.search).get("ticket");
  if (wanted && /^[1-9][0-9]{0,15}$/.test(wanted)) {
    location.replace(`/unit/tickets/${wanted}`);
    return;
  }
  const { api, el, fill, label, dateTime, say } = hotline;
  const LABELS = JSON.parse(document.getElementById("labels")?.textContent || "{}");
  const STATES = LABELS.ticket_states || {};
  const SECRET = (LABELS.confidential || {}).label || "";
  const PER_PAGE = 20;
  const status = document.getElementById("tickets-status");
  const empty = document.getElementById("tickets-empty");
  const total = document.getElementById("tickets-total");
  const tbody = document.querySelector("#tickets tbody");
  const stateFilter = document.getElementById("filter-state");
  const overdueFilter = document.getElementById("filter-overdue");
  const prev = document.getElementById("page-prev");
  const next = document.getElementById("page-next");
  const pageAt = document.getElementById("page-at");
  let page = 1;

  // 剩余N个工作日 / 今日到期 / 超期N个工作日; nothing once the unit has answered.
  function daysLeft(ticket) {
    const days = ticket.working_days_left;
    if (days === null || days === undefined) return el("span", { class: "days" }, "–");
    if (days < 0) return el("span", { class: "days over" }, `超期${-days}个工作日`);
    if (days === 0) return el("span", { class: "days over" }, "今日到期");
    return el("span", { class: days <= 2 ? "days soon" : "days" }, `剩余${days}个工作日`);
  }

  function row(ticket) {
    const link = el("a", { href: `/unit/tickets/${encodeURIComponent(ticket.ticket_id)}` }, ticket.ticket_id);
    const marks = [];
    if (ticket.urge_count > 0) marks.push(el("span", { class: "badge flagged urged" }, `督办${ticket.urge_count > 1 ? ` ×${ticket.urge_count}` : ""}`));
    if (ticket.pending_extension_days) marks.push(el("span", { class: "badge" }, "延期申请中"));
    if (ticket.confidential) marks.push(el("span", { class: "badge confidential" }, SECRET));
    return el("tr", { class: ticket.overdue ? "overdue" : null, dataset: { ticketId: ticket.ticket_id } },
      el("td", {}, link),
      el("td", {}, dateTime(ticket.forwarded || ticket.created)),
      el("td", {}, label(hotline.CATEGORIES, ticket.category)),
      el("td", { class: "summary", title: ticket.summary || "" }, ticket.summary || "–"),
      el("td", {}, el("span", { class: `badge state-${ticket.state}` }, label(STATES, ticket.state)), " ", marks),
      el("td", {}, String(ticket.deadline || "–").slice(0, 10)),
      el("td", {}, daysLeft(ticket)));
  }

  async function refresh() {
    // Only what differs from the server's defaults (all states, page 1, 20 a page) goes in the query.
    const query = new URLSearchParams();
    if (stateFilter.value !== "all") query.set("state", stateFilter.value);
    if (overdueFilter.checked) query.set("overdue", "1");
    if (page > 1) query.set("page", String(page));
    try {
      const data = await api("GET", query.size ? `/api/unit/tickets?${query}` : "/api/unit/tickets");
      const tickets = (data && Array.isArray(data.tickets)) ? data.tickets : null;
      if (tickets === null) throw new Error("服务器返回的数据格式不正确");
      fill(tbody, tickets.map(row));
      empty.hidden = tickets.length > 0;
      const pages = Math.max(1, Math.ceil((data.total || 0) / PER_PAGE));
      total.textContent = `共 ${data.total || 0} 张`;
      pageAt.textContent = `第 ${page} / ${pages} 页`;
      prev.disabled = page <= 1;
      next.disabled = page >= pages;
      say(status, "");
    } catch (e) {
      fill(tbody, []);
      empty.hidden = true;
      say(status, `工单加载失败：${e.message}`, true);
    }
  }

  for (const control of [stateFilter, overdueFilter]) {
    control.addEventListener("change", () => { page = 1; refresh(); });
  }
  prev.addEventListener("click", () => { page = Math.max(1, page - 1); refresh(); });
  next.addEventListener("click", () => { page += 1; refresh(); });
  refresh();
  // New tickets, urgings and decisions reach the list at once; the timer is a fallback.
  let pending = null;
  hotline.ticketFeed("/api/unit/desk/ws", () => { clearTimeout(pending); pending = setTimeout(refresh, 250); });
  setInterval(refresh, 30000);
})();

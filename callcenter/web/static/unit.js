// A responsible unit's page: the tickets forwarded to it (GET /api/unit/tickets: only its own).
"use strict";

(() => {
  const { api, el, fill, label, dateTime, say } = hotline;
  const LABELS = JSON.parse(document.getElementById("labels")?.textContent || "{}");
  const STATES = LABELS.ticket_states || {};
  const status = document.getElementById("tickets-status");
  const empty = document.getElementById("tickets-empty");
  const tbody = document.querySelector("#tickets tbody");

  function row(ticket) {
    return el("tr", { dataset: { ticketId: ticket.ticket_id } },
      el("td", {}, ticket.ticket_id),
      el("td", {}, dateTime(ticket.forwarded || ticket.created)),
      el("td", {}, label(hotline.CATEGORIES, ticket.category)),
      el("td", { class: "summary" }, ticket.summary || "–"),
      el("td", {}, label(STATES, ticket.state)),
      el("td", { class: ticket.overdue ? "error" : null },
        dateTime(ticket.deadline), ticket.overdue ? "（已超期）" : ""));
  }

  async function refresh() {
    try {
      const data = await api("GET", "/api/unit/tickets");
      const tickets = (data && Array.isArray(data.tickets)) ? data.tickets : null;
      if (tickets === null) throw new Error("服务器返回的数据格式不正确");
      fill(tbody, tickets.map(row));
      empty.hidden = tickets.length > 0;
      say(status, "");
    } catch (e) {
      fill(tbody, []);
      empty.hidden = true;
      say(status, `工单加载失败：${e.message}`, true);
    }
  }

  refresh();
  setInterval(refresh, 30000);
})();

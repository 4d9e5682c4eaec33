// Typical cases (典型案例): a closed ticket's redacted suggestion (what was removed marked),
// edited, confirmed and published; published cases withdrawn with a reason; the log.
"use strict";

(() => {
  const { api, el, fill, say } = hotline;
  const status = document.getElementById("cases-status");
  const editor = document.getElementById("editor");
  const form = document.getElementById("publish-form");
  const KINDS = { phone: "电话", id_number: "身份证号", plate: "车牌", name: "姓名" };
  let ticketId = null;

  // The text with each removed place in <mark>: built as nodes, never as HTML.
  function marked(shown) {
    const parts = [];
    let at = 0;
    for (const r of shown.removed) {
      parts.push(shown.text.slice(at, r.start));
      parts.push(el("mark", { title: `删去的${KINDS[r.kind] || r.kind}：${r.text}` }, shown.text.slice(r.start, r.end)));
      at = r.end;
    }
    parts.push(shown.text.slice(at));
    return el("p", { class: "summary-text" }, ...parts);
  }

  async function choose(id) {
    try {
      const s = await api("GET", `/api/cases/suggestion/${id}`);
      ticketId = id;
      document.getElementById("editor-heading").textContent = `发布工单 #${id} 为典型案例`;
      fill(document.getElementById("suggestion"), [marked(s.title), marked(s.body)]);
      document.getElementById("case-title").value = s.title.text;
      document.getElementById("case-body").value = s.body.text;
      document.getElementById("case-confirm").checked = false;
      editor.hidden = false;
      say(status, `已删去 ${s.body.removed.length + s.title.removed.length} 处个人信息，请核对`);
    } catch (e) {
      say(status, e.message, true);
    }
  }

  async function withdraw(caseId) {
    const reason = window.prompt("撤回原因（必填）");
    if (reason === null) return;
    try {
      await api("POST", `/api/cases/${caseId}/withdraw`, { reason });
      say(status, `案例 ${caseId} 已撤回`);
    } catch (e) {
      say(status, e.message, true);
    }
    await load();
  }

  async function load() {
    try {
      const data = await api("GET", "/api/cases");
      fill(document.querySelector("#candidates tbody"), data.candidates.map((t) => el("tr",
        { dataset: { ticketId: String(t.ticket_id) } },
        el("td", {}, el("a", { href: `/tickets/${t.ticket_id}` }, `#${t.ticket_id}`)), el("td", {}, t.closed || ""),
        el("td", {}, t.summary), el("td", {}, t.unit_name),
        el("td", {}, el("button", { type: "button", class: "choose-case", onclick: () => choose(t.ticket_id) },
          "准备发布")))));
      document.getElementById("candidates-empty").hidden = data.candidates.length > 0;
      fill(document.querySelector("#published tbody"), data.published.map((c) => el("tr",
        { dataset: { caseId: String(c.case_id) } },
        el("td", {}, String(c.case_id)), el("td", {}, `#${c.ticket_id}`), el("td", {}, c.title),
        el("td", {}, `${c.published || ""} ${c.published_by || ""}`),
        el("td", {}, c.withdrawn_epoch ? `已撤回（${c.withdraw_reason || ""}）` : "公开中"),
        el("td", {}, c.withdrawn_epoch ? "" : el("button", { type: "button", class: "danger withdraw-case",
          onclick: () => withdraw(c.case_id) }, "撤回")))));
      const log = await api("GET", "/api/cases/log");
      fill(document.getElementById("case-log"), log.log.map((r) => el("li", { dataset: { action: r.action } },
        el("strong", {}, r.action === "withdrawn" ? "撤回" : "发布"), ` 案例 ${r.case_id}（工单 #${r.ticket_id}）`,
        el("span", { class: "meta" }, ` ${r.at} ${r.actor || ""}`))));
    } catch (e) {
      say(status, e.message, true);
    }
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (ticketId === null) return;
    if (!document.getElementById("case-confirm").checked) {
      say(status, "请先勾选确认：发布前须核对文本中没有市民的个人信息", true);
      return;
    }
    try {
      const done = await api("POST", "/api/cases", {
        ticket_id: ticketId, title: document.getElementById("case-title").value,
        body: document.getElementById("case-body").value, confirm: true });
      const more = done.body.removed.length + done.title.removed.length;
      say(status, `已发布为案例 ${done.case_id}` + (more ? `（又删去了 ${more} 处个人信息）` : ""));
      editor.hidden = true;
      ticketId = null;
    } catch (e) {
      say(status, e.message, true);
    }
    await load();
  });
  load();
})();

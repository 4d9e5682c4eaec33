// One ticket of a responsible unit: the matter, the citizen's contact, the deadline, the
// timeline and the files; and what the unit can do while it has the ticket in hand:
// reply (files uploaded first, then the text), ask for more time, return it.
"use strict";

(() => {
  const { api, el, label, dateTime, say } = hotline;
  const LABELS = JSON.parse(document.getElementById("labels")?.textContent || "{}");
  const STATES = LABELS.ticket_states || {};
  const CHANNELS = LABELS.channels || {};
  const KINDS = LABELS.ticket_events || {};
  const RESULTS = LABELS.callback_results || {};
  const SATISFACTIONS = LABELS.satisfactions || {};
  const SECRET = (LABELS.confidential || {}).label || "";
  const IN_HAND = ["forwarded", "reopened"];
  const MAX_FILES = 5, MAX_BYTES = 10 * 1024 * 1024;
  const csrf = document.querySelector('meta[name="csrf-token"]')?.content || "";
  const ticketId = document.getElementById("ticket").dataset.ticketId;
  const base = `/api/unit/tickets/${encodeURIComponent(ticketId)}`;
  const $ = (id) => document.getElementById(id);

  function daysLeft(ticket) {
    const days = ticket.working_days_left;
    if (days === null || days === undefined) return "";
    if (days < 0) return el("span", { class: "days over" }, `（超期${-days}个工作日）`);
    if (days === 0) return el("span", { class: "days over" }, "（今日到期）");
    return el("span", { class: days <= 2 ? "days soon" : "days" }, `（剩余${days}个工作日）`);
  }

  function size(bytes) {
    return bytes >= 1024 * 1024 ? `${(bytes / 1024 / 1024).toFixed(1)} MB` : `${Math.max(1, Math.round(bytes / 1024))} KB`;
  }

  // What one line of the history says beyond its kind (the data each kind carries).
  function details(event) {
    const d = event.data || {};
    switch (event.kind) {
      case "forwarded": return d.note ? `意见：${d.note}` : "";
      case "replied": return `${d.by ? `${d.by}：` : ""}${d.reply || ""}${d.late ? "（超期答复）" : ""}`;
      case "urged": return `第 ${d.count || 1} 次督办${d.note ? `：${d.note}` : ""}${d.overdue ? "（已超期）" : ""}`;
      case "extension_requested": return `申请延长 ${d.days} 个工作日：${d.reason || ""}`;
      case "extension_granted": return `同意延长 ${d.days} 个工作日，期限由 ${d.old_deadline} 改为 ${d.new_deadline}${d.note ? `；${d.note}` : ""}`;
      case "extension_refused": return `申请延长 ${d.days} 个工作日未获同意${d.note ? `：${d.note}` : ""}`;
      case "returned": return d.to === "supervisor" ? `退回热线：${d.reason || ""}` : `退回话务员：${d.note || ""}`;
      case "reopened": return d.reason ? `原因：${d.reason}` : "";
      case "closed": return d.note || "";
      case "callback": return [label(RESULTS, d.result, ""), label(SATISFACTIONS, d.satisfaction, ""), d.note || ""].filter(Boolean).join(" · ");
      case "attached": return (d.files || []).join("、");
      case "confidential_set": case "confidential_cleared": return d.note || "";
      default: return "";
    }
  }

  function showFacts(ticket) {
    const facts = [
      ["状态", el("span", { class: `badge state-${ticket.state}` }, label(STATES, ticket.state))],
      ["分类", label(hotline.CATEGORIES, ticket.category)],
      ["来源", label(CHANNELS, ticket.channel)],
      ["诉求内容", ticket.summary || "–"],
      // A confidential ticket comes without the citizen: the server says how to reach them.
      ...(ticket.confidential ? [["市民信息", el("span", { class: "confidential-note" }, ticket.contact_note || SECRET)]] : [
        ["市民姓名", ticket.citizen_name || "–"],
        ["联系电话", ticket.contact_number || "–"],
        ["地址", ticket.address || "–"],
      ]),
      ["登记时间", dateTime(ticket.created)],
      ["答复期限", [String(ticket.deadline || "–").slice(0, 10), daysLeft(ticket)]],
    ];
    if (ticket.reply) facts.push(["本单位答复", `${ticket.reply}（${dateTime(ticket.replied)}）`]);
    $("facts").replaceChildren(...facts.flatMap(([k, v]) => [el("dt", {}, k), el("dd", {}, v)]));
    $("ticket-number").textContent = ticket.ticket_id;
    const marks = [];
    if (ticket.urge_count > 0) marks.push(el("span", { class: "badge flagged urged" }, `督办 ×${ticket.urge_count}`));
    if (ticket.overdue) marks.push(el("span", { class: "badge flagged" }, "已超期"));
    if (ticket.confidential) marks.push(el("span", { class: "badge confidential" }, SECRET));
    $("ticket-marks").replaceChildren(...marks);
  }

  function showAttachments(attachments) {
    $("attachments").replaceChildren(...attachments.map((a) => el("li", { dataset: { attachmentId: a.attachment_id } },
      el("a", { href: `${base}/attachments/${encodeURIComponent(a.attachment_id)}` }, a.name),
      el("span", { class: "hint" }, ` ${size(a.size)} · ${a.uploaded_by || ""} · ${dateTime(a.uploaded)}`))));
    $("attachments-empty").hidden = attachments.length > 0;
  }

  function showTimeline(events) {
    $("timeline").replaceChildren(...events.map((event) => el("li", { dataset: { kind: event.kind } },
      el("span", { class: "at" }, dateTime(event.at)),
      el("strong", {}, label(KINDS, event.kind)),
      event.actor ? ` · ${event.actor}` : "",
      details(event) ? ` · ${details(event)}` : "")));
  }

  function showActions(ticket, events) {
    const inHand = IN_HAND.includes(ticket.state);
    for (const id of ["reply-panel", "extension-panel", "return-panel"]) $(id).hidden = !inHand;
    const notInHand = $("not-in-hand");
    notInHand.hidden = inHand;
    notInHand.textContent = {
      replied: "本工单已答复，等待热线回访、办结。", closed: "本工单已办结。",
      open: "本工单已退回热线或尚未交办，暂不需本单位办理。",
    }[ticket.state] || "";
    const pending = $("extension-pending");
    pending.hidden = !ticket.pending_extension_days;
    pending.textContent = ticket.pending_extension_days
      ? `已申请延长 ${ticket.pending_extension_days} 个工作日（${ticket.pending_extension_reason || ""}），等待热线审批。` : "";
    $("extension-form").hidden = Boolean(ticket.pending_extension_days);
    const decided = events.filter((e) => e.kind === "extension_granted" || e.kind === "extension_refused").pop();
    const decision = $("extension-decision");
    decision.hidden = !decided;
    if (decided) {
      decision.textContent = decided.kind === "extension_granted"
        ? `上次申请：热线已同意延长 ${decided.data.days} 个工作日，新期限 ${decided.data.new_deadline}。`
        : `上次申请：热线未同意延期${decided.data && decided.data.note ? `（${decided.data.note}）` : ""}。`;
    }
  }

  async function load() {
    let data;
    try {
      data = await api("GET", base);
    } catch (e) {
      $("ticket-error").hidden = false;
      $("ticket-error").textContent = e.message;
      $("ticket-body").hidden = true;
      return;
    }
    showFacts(data.ticket);
    showAttachments(data.attachments || []);
    showTimeline(data.events || []);
    showActions(data.ticket, data.events || []);
    $("ticket-error").hidden = true;
    $("ticket-body").hidden = false;
  }

  // The files go as multipart (streamed by the server), with the CSRF token in its header.
  async function upload(files) {
    const form = new FormData();
    for (const file of files) form.append("file", file, file.name);
    const response = await fetch(`${base}/attachments`, {
      method: "POST", body: form, credentials: "same-origin",
      headers: { Accept: "application/json", "X-CSRF-Token": csrf } });
    let data = null;
    try { data = await response.json(); } catch (e) { data = null; }
    if (!response.ok) throw new Error((data && data.error) || `上传失败（HTTP ${response.status}）`);
    return data;
  }

  function busy(form, on) {
    for (const control of form.querySelectorAll("button, input, textarea")) control.disabled = on;
  }

  async function act(form, status, work, done) {
    busy(form, true);
    $("action-done").hidden = true;
    try {
      await work();
      form.reset();
      say(status, "");
      $("action-done").textContent = done;  // outside the forms: the panel may close once done
      $("action-done").hidden = false;
      await load();
    } catch (e) {
      say(status, e.message, true);
    } finally {
      busy(form, false);
    }
  }

  $("reply-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const text = $("reply-text").value.trim();
    const files = Array.from($("reply-files").files || []);
    const status = $("reply-status");
    if (!text) return say(status, "请填写答复内容", true);
    if (files.length > MAX_FILES) return say(status, `最多 ${MAX_FILES} 个附件，已选 ${files.length} 个`, true);
    const big = files.find((f) => f.size > MAX_BYTES);
    if (big) return say(status, `“${big.name}”超过 10 MB，请压缩后再上传`, true);
    act(event.target, status, async () => {
      if (files.length) {
        say(status, `正在上传 ${files.length} 个附件…`);
        await upload(files);
      }
      say(status, "正在提交答复…");
      await api("POST", `${base}/reply`, { text });
    }, files.length ? `已答复，附件 ${files.length} 个` : "已答复");
  });

  $("extension-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const days = Number($("extension-days").value);
    const reason = $("extension-reason").value.trim();
    const status = $("extension-status");
    if (!Number.isInteger(days) || days < 1 || days > 30) return say(status, "延长天数须为 1-30 个工作日", true);
    if (!reason) return say(status, "请填写延期理由", true);
    act(event.target, status, () => api("POST", `${base}/extension`, { days, reason }), "延期申请已提交，等待热线审批");
  });

  $("return-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const reason = $("return-reason").value.trim();
    const status = $("return-status");
    if (!reason) return say(status, "请填写退回理由", true);
    act(event.target, status, () => api("POST", `${base}/return`, { reason }), "已退回热线");
  });

  load();
  // The supervisor's decision on an extension, an urging, a re-forward: shown at once.
  hotline.ticketFeed("/api/unit/desk/ws", (message) => {
    if (message === null || String(message.ticket_id) === String(ticketId)) load();
  });
})();

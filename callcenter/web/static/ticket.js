// One ticket on the director's desk: the matter, its calls with their recordings, the unit's
// reply and the callbacks, the whole history, and the moves the ticket's state allows.
"use strict";

(() => {
  const { api, el, label, duration, dateTime, say } = hotline;
  const LABELS = JSON.parse(document.getElementById("labels")?.textContent || "{}");
  const STATES = LABELS.ticket_states || {};
  const EVENTS = LABELS.ticket_events || {};
  const CHANNELS = LABELS.channels || {};
  const SATISFACTIONS = LABELS.satisfactions || {};
  const RESULTS = LABELS.callback_results || {};
  const SECRET = (LABELS.confidential || {}).label || "";
  const ticketId = document.getElementById("ticket").dataset.ticketId;
  const moveStatus = document.getElementById("move-status");
  const RETURNED = { operator: "已退回话务员补充", supervisor: "承办单位已退回，待重新指派" };
  let ticket = null;

  function facts(node, pairs) {
    node.replaceChildren(...pairs.filter(([, v]) => v !== null && v !== undefined && v !== "")
      .flatMap(([k, v]) => [el("dt", {}, k), el("dd", {}, v)]));
  }

  // Units by code, so the history names them as a clerk knows them (泽州县人民政府, not zezhou).
  const unitNames = {};
  const unitName = (code) => unitNames[code] || code || "";

  // What each kind of step adds to "who did what when".
  function detail(event) {
    const d = event.data || {};
    switch (event.kind) {
      case "created": return `承办单位 ${unitName(d.unit)} · 来源 ${label(CHANNELS, d.channel)}`;
      case "forwarded": return [`转至 ${unitName(d.unit)}`, d.note].filter(Boolean).join(" · ");
      case "replied": return `${d.by || ""}：${d.reply || ""}${d.late ? "（超期答复）" : ""}`;
      case "closed": return d.note || "";
      case "reopened": return `原因：${d.reason || ""}`;
      case "linked": return `来电 ${(d.calls || []).length} 通`;
      case "merged": return d.into ? `并入工单 #${d.into}` : `工单 #${d.from} 并入本单`;
      case "returned": return d.to === "operator" ? `退回话务员 ${d.operator || ""}：${d.note || ""}`
        : `${d.unit || "承办单位"} 退回：${d.reason || ""}`;
      case "urged": return [`第 ${d.count} 次督办`, d.overdue ? "已超期" : "", d.note].filter(Boolean).join(" · ");
      case "extension_requested": return `申请延期 ${d.days} 个工作日：${d.reason || ""}`;
      case "extension_granted": return `延期 ${d.days} 个工作日，期限 ${d.old_deadline} → ${d.new_deadline}`;
      case "extension_refused": return `不同意延期 ${d.days ?? ""} 个工作日`;
      case "callback": return [label(RESULTS, d.result), d.satisfaction ? label(SATISFACTIONS, d.satisfaction) : "",
        d.note].filter(Boolean).join(" · ");
      case "attached": return (d.files || []).join("、");
      case "resubmitted": return `补正说明：${d.note || ""}`;
      case "confidential_set": return d.merged_from ? `并入的工单 ${d.merged_from.map((n) => `#${n}`).join("、")} 为保密工单`
        : (d.note || "");
      case "confidential_cleared": return d.note || "";
      default: return "";
    }
  }

  function showCalls(calls) {
    document.getElementById("calls").replaceChildren(...calls.map((call) => el("div",
      { class: "linked-call", dataset: { callId: call.call_id } },
      el("div", {}, el("a", { href: `/calls/${encodeURIComponent(call.call_id)}` }, dateTime(call.arrived)), " ",
        call.caller_number || "（隐藏号码）", " · ", call.seat || "–",
        call.operator ? ` · 接听：${hotline.operatorText(call.operator, call.operator_name)}` : "",
        " · 通话 ", duration(call.talk_seconds)),
      call.has_recording
        ? el("audio", { controls: true, preload: "metadata", class: "recording",
                        src: `/api/calls/${encodeURIComponent(call.call_id)}/recording` })
        : el("span", { class: "hint" }, call.recording_pruned ? label(hotline.EVENTS, "RECORDING_PRUNED") : "无录音"))));
    document.getElementById("calls-empty").hidden = calls.length > 0;
  }

  // A forum post's address, shown as a link only when it is http(s): never a javascript: URL.
  function sourceLink(address) {
    if (!address) return "";
    let url;
    try { url = new URL(address); } catch (e) { return String(address); }
    if (url.protocol !== "http:" && url.protocol !== "https:") return String(address);
    return el("a", { href: url.href, rel: "noopener noreferrer", target: "_blank", id: "source-link" }, url.href);
  }

  const MESSAGE_STATUSES = LABELS.message_statuses || {};

  // The written channels' thread: the citizen's messages and the responses (who, or automatic).
  function showThread(t, messages) {
    const written = ["mailbox", "sms", "forum"].includes(t.channel);
    document.getElementById("written-panel").hidden = !written;
    if (!written) return;
    document.getElementById("messages").replaceChildren(...messages.map((m) => el("li",
      { class: `message ${m.direction}`, dataset: { messageId: m.id, direction: m.direction } },
      el("span", { class: "at" }, dateTime(m.at).slice(0, 16)),
      el("span", { class: "who" }, m.direction === "in" ? "市民来信" : (m.automatic ? "自动回执" : `答复：${m.actor || ""}`)),
      el("span", { class: "hint" }, ` ${label(MESSAGE_STATUSES, m.status)} `),
      el("p", { class: "message-body" }, m.body))));
    document.getElementById("messages-empty").hidden = messages.length > 0;
    const due = t.response_due_epoch;
    document.getElementById("response-due").textContent = t.responded_epoch
      ? `已于 ${dateTime(t.responded).slice(0, 16)} 答复${t.responded_epoch > due ? "（超时）" : ""}`
      : (due ? `答复时限 ${hotline.epochDateTime(due)}` : "");
  }

  function showMoves(t) {
    const state = t.state;
    const live = !t.merged_into;
    const show = (id, yes) => { document.getElementById(id).hidden = !(live && yes); };
    show("move-forward", ["open", "forwarded", "reopened"].includes(state));
    show("move-urge", ["forwarded", "reopened"].includes(state));
    show("move-extension", t.pending_extension_days !== null && t.pending_extension_days !== undefined);
    show("move-close", ["replied", "closed"].includes(state));
    document.getElementById("do-close").parentElement.hidden = state !== "replied";
    show("move-return", state === "open");
    show("move-merge", state !== "closed");
    show("move-confidential", true);
    document.getElementById("do-confidential").textContent = t.confidential ? "取消保密" : "设为保密";
    document.getElementById("do-forward").textContent = state === "open" ? "审核通过并转办" : "重新转办";
    document.getElementById("extension-pending").textContent = t.pending_extension_days
      ? `承办单位申请延期 ${t.pending_extension_days} 个工作日：${t.pending_extension_reason || ""}`
      : "没有待审批的延期申请";
  }

  async function load() {
    let data;
    try {
      data = await api("GET", `/api/tickets/${encodeURIComponent(ticketId)}`);
    } catch (e) {
      const error = document.getElementById("ticket-error");
      error.hidden = false;
      error.textContent = e.message;
      document.getElementById("ticket").hidden = true;
      return;
    }
    ticket = data.ticket;
    const t = ticket;
    document.getElementById("ticket-heading").replaceChildren(`工单 #${t.ticket_id} `,
      el("span", { class: `badge state-${t.state}`, id: "ticket-state" }, label(STATES, t.state)),
      t.returned_to ? el("span", { class: "badge reason" }, RETURNED[t.returned_to] || t.returned_to) : "",
      t.confidential ? el("span", { class: "badge confidential", id: "ticket-confidential" }, SECRET) : "");
    document.getElementById("ticket-summary").textContent = t.summary;
    facts(document.getElementById("facts"), [
      ["分类", label(hotline.CATEGORIES, t.category)], ["渠道", label(CHANNELS, t.channel)],
      ["原帖", sourceLink(t.source_link)],
      ["承办单位", `${t.unit_name}（${t.unit}）`], ["受理时间", dateTime(t.created)], ["话务员", t.operator],
      ["保密", t.confidential ? "市民要求保密：承办单位看不到市民姓名、电话和地址；每次查看本页均记入办理过程" : ""],
      ["市民姓名", t.citizen_name], ["联系电话", t.contact_number], ["地址", t.address],
      ["办理期限", `${t.deadline}${t.deadline_estimated ? "（估算）" : ""}`],
      ["督办次数", t.urge_count ? String(t.urge_count) : ""], ["重新办理", t.reopen_count ? `${t.reopen_count} 次` : ""],
      ["已并入", t.merged_into ? `工单 #${t.merged_into}` : ""],
    ]);
    facts(document.getElementById("reply-facts"), [
      ["答复单位", t.reply_by || (t.reply ? t.unit_name : "")], ["答复时间", t.replied ? dateTime(t.replied) : "尚未答复"],
      ["答复内容", t.reply], ["办结时间", t.closed ? dateTime(t.closed) : ""],
      ["满意度", t.satisfaction ? label(SATISFACTIONS, t.satisfaction) : ""],
      ["回访次数", t.callback_attempts ? String(t.callback_attempts) : ""],
    ]);
    document.getElementById("callbacks").replaceChildren(...data.callbacks.map((c) => el("li", {},
      el("span", { class: "at" }, dateTime(c.at)), label(RESULTS, c.result),
      c.satisfaction ? ` · ${label(SATISFACTIONS, c.satisfaction)}` : "", c.note ? ` · ${c.note}` : "")));
    document.getElementById("callbacks-empty").hidden = data.callbacks.length > 0;
    showCalls(data.calls);
    showThread(t, data.messages || []);
    const files = data.attachments || [];
    document.getElementById("attachments").replaceChildren(...files.map((a) => el("li",
      { dataset: { attachmentId: a.attachment_id } },
      el("a", { href: `/api/tickets/${encodeURIComponent(t.ticket_id)}/attachments/${encodeURIComponent(a.attachment_id)}` },
        a.name),
      el("span", { class: "hint" }, ` ${Math.max(1, Math.round((a.size || 0) / 1024))} KB · ${a.uploaded_by || ""} · ${dateTime(a.uploaded)}`))));
    document.getElementById("attachments-empty").hidden = files.length > 0;
    document.getElementById("timeline").replaceChildren(...data.events.map((event) =>
      el("li", { dataset: { kind: event.kind } }, el("span", { class: "at" }, dateTime(event.at).slice(0, 16)),
        el("span", { class: "who" }, event.actor || "系统"), el("strong", {}, label(EVENTS, event.kind)), " ",
        el("span", { class: "detail" }, detail(event)))));
    showMoves(t);
  }

  // --- the moves: each posts, then the ticket is read again; a refusal is said in the page
  async function move(path, body, doneText, clear) {
    say(moveStatus, "办理中…");
    try {
      await api("POST", path, body);
      for (const input of clear || []) input.value = "";
      await load();
      say(moveStatus, doneText);
      return true;
    } catch (e) {
      say(moveStatus, e.message, true);
      return false;
    }
  }

  const value = (id) => document.getElementById(id).value.trim();
  const input = (id) => document.getElementById(id);
  function required(id, what) {
    if (value(id)) return true;
    say(moveStatus, `请填写${what}`, true);
    input(id).focus();
    return false;
  }

  // The unit picker to reassign on forwarding (empty: the ticket's own unit).
  const unitSearch = input("forward-unit-search");
  const unitOptions = input("unit-options");
  const unitPicked = input("forward-unit-picked");
  let pickedUnit = null;
  let unitTimer = null;
  function pick(unit) {
    pickedUnit = unit;
    unitPicked.textContent = unit ? `改派给：${unit.name}（${unit.code}）` : "按原承办单位转办";
    unitPicked.classList.toggle("chosen", Boolean(unit));
    if (unit) unitSearch.value = unit.name;
    unitOptions.replaceChildren();
    unitOptions.hidden = true;
  }
  unitSearch.addEventListener("input", () => {
    if (pickedUnit) pick(null);
    clearTimeout(unitTimer);
    unitTimer = setTimeout(async () => {
      const query = unitSearch.value.trim();
      if (!query) { pick(null); return; }
      try {
        const data = await api("GET", `/api/units?q=${encodeURIComponent(query)}`);
        unitOptions.replaceChildren(...data.units.slice(0, 10).map((unit) => el("li", {},
          el("button", { type: "button", class: "unit-option", dataset: { code: unit.code }, onclick: () => pick(unit) },
            el("strong", {}, unit.name), " ", el("span", { class: "hint" }, unit.code)))));
        unitOptions.hidden = data.units.length === 0;
        if (!data.units.length) say(moveStatus, `没有找到“${query}”`, true);
      } catch (e) {
        say(moveStatus, e.message, true);
      }
    }, 200);
  });

  input("do-forward").addEventListener("click", () => {
    const body = { note: value("forward-note") };
    if (pickedUnit) body.unit = pickedUnit.code;
    const to = pickedUnit ? pickedUnit.name : (ticket ? ticket.unit_name : "");
    move(`/api/tickets/${encodeURIComponent(ticketId)}/forward`, body, `已转办给 ${to}`, [input("forward-note")])
      .then((ok) => { if (ok) pick(null); });
  });
  input("do-urge").addEventListener("click", () =>
    move(`/api/tickets/${encodeURIComponent(ticketId)}/urge`, { note: value("urge-note") }, "已督办", [input("urge-note")]));
  input("do-grant").addEventListener("click", () =>
    move(`/api/tickets/${encodeURIComponent(ticketId)}/extension`, { grant: true }, "已同意延期，期限已顺延"));
  input("do-refuse").addEventListener("click", () =>
    move(`/api/tickets/${encodeURIComponent(ticketId)}/extension`, { grant: false }, "已不同意延期"));
  input("do-close").addEventListener("click", () =>
    move(`/api/tickets/${encodeURIComponent(ticketId)}/close`, { note: value("close-note") }, "已办结", [input("close-note")]));
  input("do-reopen").addEventListener("click", () => {
    if (!required("reopen-reason", "重新办理的原因")) return;
    move(`/api/tickets/${encodeURIComponent(ticketId)}/reopen`, { reason: value("reopen-reason") },
      "已重新办理，办理期限重新计算", [input("reopen-reason")]);
  });
  input("do-return").addEventListener("click", () => {
    if (!required("return-note", "需要话务员补充或更正的内容")) return;
    move(`/api/tickets/${encodeURIComponent(ticketId)}/return`, { note: value("return-note") }, "已退回话务员",
      [input("return-note")]);
  });
  input("do-confidential").addEventListener("click", () => {
    const confidential = !(ticket && ticket.confidential);
    move(`/api/tickets/${encodeURIComponent(ticketId)}/confidential`, { confidential, note: value("confidential-note") },
      confidential ? "已设为保密工单" : "已取消保密", [input("confidential-note")]);
  });
  input("do-merge").addEventListener("click", () => {
    const others = value("merge-ids").split(/[^0-9]+/).filter(Boolean).map(Number);
    if (!others.length) { say(moveStatus, "请填写要并入本单的其他工单编号", true); input("merge-ids").focus(); return; }
    move(`/api/tickets/${encodeURIComponent(ticketId)}/merge`, { others },
      `已将工单 ${others.map((n) => `#${n}`).join("、")} 并入本单`, [input("merge-ids")]);
  });

  document.getElementById("respond-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const text = input("respond-text");
    const respondStatus = document.getElementById("respond-status");
    if (!text.value.trim()) { say(respondStatus, "请填写答复内容", true); text.focus(); return; }
    say(respondStatus, "正在答复…");
    try {
      await api("POST", `/api/tickets/${encodeURIComponent(ticketId)}/respond`, { text: text.value });
      text.value = "";
      await load();
      say(respondStatus, ticket && ticket.channel === "sms" ? "已答复，短信待发送" : "已答复市民");
    } catch (e) {
      say(respondStatus, e.message, true);
    }
  });

  // --- live: another desk (or the unit) changing this ticket shows here too
  const liveState = document.getElementById("live-state");
  function connect() {
    const scheme = location.protocol === "https:" ? "wss://" : "ws://";
    const socket = new WebSocket(`${scheme}${location.host}/api/desk/ws`);
    socket.addEventListener("message", (event) => {
      let message;
      try { message = JSON.parse(event.data); } catch (e) { return; }
      if (message.type === "ready") liveState.textContent = "";
      if (message.type === "ticket" && String(message.ticket_id) === String(ticketId)) load();
    });
    socket.addEventListener("close", (event) => {
      if (event.code === 4401) { location.href = "/login"; return; }
      liveState.textContent = "（实时更新已断开，正在重连…）";
      setTimeout(connect, 3000);
    });
  }
  (async () => {
    try {
      for (const unit of (await api("GET", "/api/units")).units) unitNames[unit.code] = unit.name;
    } catch (e) { /* the history then shows codes: still correct */ }
    load();
  })();
  connect();
})();

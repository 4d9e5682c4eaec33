// The operator's workspace: the seat and the call on it (or the last one), pushed over the
// WebSocket /api/operator/ws whenever they change (no polling); the caller card (number, name,
// earlier calls and outcomes, the nuisance flag, the number's tickets in progress); the knowledge
// base beside it; the summary form; 留单 (a ticket from that call or one of the seat's recent
// calls, similar tickets offered first); pause, unpause and the wrap-up countdown; shortcuts.
"use strict";

(() => {
  const { api, el, fill, label, duration, dateTime, say } = hotline;
  const seatStatus = document.getElementById("seat-status");
  const summaryStatus = document.getElementById("summary-status");
  const category = document.getElementById("category");
  const summary = document.getElementById("summary");
  const liveState = document.getElementById("live-state");
  const LABELS_ALL = JSON.parse(document.getElementById("labels")?.textContent || "{}");
  let shownCallId = null;
  let shownCall = null;
  let seatNow = null;

  // ------------------------------------------------------------------ the seat and its wrap-up
  let wrapupEnds = 0;
  let wrapupTimer = null;

  function tickWrapup() {
    const left = Math.max(0, Math.ceil(wrapupEnds - Date.now() / 1000));
    document.getElementById("wrapup-left").textContent = String(left);
    if (!left) { clearInterval(wrapupTimer); wrapupTimer = null; }
  }

  function showSeat(seat, pushedAt) {
    seatNow = seat;
    document.getElementById("seat-name").textContent = seat.seat;
    const state = seat.paused ? `暂停（${seat.pause_reason || "无原因"}）`
      : seat.registered ? label(hotline.SEAT_STATES, seat.call && seat.call.phase === "talking" ? "talking" : seat.state)
        : "话机未注册";
    document.getElementById("seat-state").textContent = state;
    const bar = document.getElementById("seat-bar");
    bar.dataset.paused = seat.paused ? "yes" : "no";
    bar.dataset.state = seat.state;
    // The countdown runs on the page (the server pushes only changes), from what was left when
    // the view was made: the browser's clock need not agree with the server's.
    const wrapping = seat.state === "wrapup" && seat.wrapup_seconds > 0;
    document.getElementById("wrapup").hidden = !wrapping;
    clearInterval(wrapupTimer);
    wrapupTimer = null;
    if (wrapping) {
      wrapupEnds = Date.now() / 1000 + (seat.since + seat.wrapup_seconds - (pushedAt || seat.since));
      tickWrapup();
      wrapupTimer = setInterval(tickWrapup, 250);
    }
  }

  // ------------------------------------------------------------------ the call and its caller card
  function showCard(card) {
    const flag = card && card.flag;
    const reason = document.getElementById("card-flag-reason");
    reason.hidden = !flag;
    reason.textContent = flag ? `已列入骚扰号码：${flag.reason || label(LABELS_ALL.rules || {}, flag.rule)}` : "";
    const tickets = (card && card.open_tickets) || [];
    const states = LABELS_ALL.ticket_states || {};
    const secret = (LABELS_ALL.confidential || {}).label || "";
    fill(document.getElementById("card-tickets"), tickets.map((t) => el("li", { dataset: { ticketId: t.ticket_id } },
      el("strong", {}, `工单 #${t.ticket_id}`), " ",
      el("span", { class: `badge state-${t.state}` }, label(states, t.state)), " ",
      t.confidential ? el("span", { class: "badge confidential" }, secret) : "",
      el("span", { class: "hint" }, ` ${t.unit_name || t.unit || ""} · ${dateTime(t.created).slice(0, 10)}`),
      el("div", { class: "ticket-summary" }, t.summary || ""))));
    document.getElementById("card-tickets-empty").hidden = tickets.length > 0;
    const earlier = (card && card.earlier_calls) || [];
    fill(document.querySelector("#earlier tbody"), earlier.map((c) => el("tr", { dataset: { callId: c.call_id } },
      el("td", {}, dateTime(c.arrived)), el("td", {}, label(hotline.OUTCOMES, c.outcome, "进行中")),
      el("td", {}, label(hotline.CATEGORIES, c.category, "未分类")), el("td", {}, c.seat || "–"),
      el("td", {}, duration(c.talk_seconds)))));
    document.getElementById("earlier-empty").hidden = earlier.length > 0;
    document.getElementById("earlier-empty").textContent =
      card && card.withheld ? "隐藏号码，无法查询历史来电" : "没有更早的来电";
  }

  function showCall(call, card) {
    document.getElementById("no-call").hidden = Boolean(call);
    document.getElementById("call-card").hidden = !call;
    const current = document.getElementById("current");
    if (!call) { shownCallId = null; shownCall = null; delete current.dataset.callId; return; }
    shownCall = call;
    current.dataset.callId = call.call_id;
    current.dataset.live = call.live ? "yes" : "no";
    document.getElementById("call-heading").textContent = call.live ? "当前来电" : "上一通来电（可补充小结）";
    document.getElementById("call-number").textContent = call.caller_number || "（隐藏号码）";
    // The name the citizen gave on a ticket before, else the caller id's.
    document.getElementById("call-name").textContent = (card && card.name) || call.caller_name || "";
    document.getElementById("call-flagged").hidden = !call.flagged;
    document.getElementById("call-phase").textContent = call.live ? label(hotline.PHASES, call.phase)
      : label(hotline.OUTCOMES, call.outcome, "已结束");
    document.getElementById("call-arrived").textContent = dateTime(call.arrived);
    document.getElementById("call-menu-category").textContent = label(hotline.CATEGORIES, call.menu_category, "未选择");
    const cardNode = document.getElementById("caller-card");
    if (call.call_id !== shownCallId) {
      // Only a new call resets the form: a push must never wipe what the operator is typing.
      shownCallId = call.call_id;
      category.value = (call.summary && call.summary.category) || call.category || "consultation";
      summary.value = (call.summary && call.summary.summary) || "";
      say(summaryStatus, call.summary ? `已保存（${call.summary.by}）` : "");
      showCard(card);
      // When the card reached the screen (ms since the epoch): the browser test's latency.
      cardNode.dataset.callId = call.call_id;
      cardNode.dataset.shownAt = String(Date.now());
      newCallForKnowledge();
      loadRecent();
    } else if (card) {
      showCard(card);
    }
  }

  function show(view) {
    showSeat(view.seat, view.pushed_at);
    showCall(view.call, view.card);
    showThreeWay(view.call);
    document.body.dataset.pushes = String(Number(document.body.dataset.pushes || 0) + 1);
  }

  // One read of the seat, for a page that has just acted (the socket tells the rest).
  async function refresh() {
    try {
      show(await api("GET", "/api/operator/now"));
    } catch (e) {
      say(seatStatus, e.message, true);
    }
  }

  let retry = 1000;
  function connect() {
    const scheme = location.protocol === "https:" ? "wss://" : "ws://";
    const socket = new WebSocket(`${scheme}${location.host}/api/operator/ws`);
    socket.addEventListener("message", (event) => {
      let message;
      try { message = JSON.parse(event.data); } catch (e) { return; }
      if (message.type === "ready") {
        retry = 1000;
        liveState.textContent = "实时";
        liveState.classList.remove("down");
        document.body.dataset.live = "yes";
      } else if (message.type === "seat") {
        show(message);
      }
    });
    socket.addEventListener("close", (event) => {
      document.body.dataset.live = "no";
      if (event.code === 4401) { location.href = "/login"; return; }
      liveState.textContent = "实时连接已断开，正在重连…";
      liveState.classList.add("down");
      setTimeout(connect, retry);
      retry = Math.min(retry * 2, 15000);
    });
  }

  async function saveSummary() {
    if (!shownCallId) return;
    try {
      await api("POST", `/api/calls/${encodeURIComponent(shownCallId)}/summary`,
        { category: category.value, summary: summary.value });
      say(summaryStatus, "已保存");
    } catch (e) {
      say(summaryStatus, e.message, true);
    }
  }

  document.getElementById("summary-form").addEventListener("submit", (event) => {
    event.preventDefault();
    saveSummary();
  });
  document.getElementById("mark-nuisance").addEventListener("click", async () => {
    if (!shownCallId) return;
    try {
      const data = await api("POST", `/api/calls/${encodeURIComponent(shownCallId)}/nuisance`);
      say(summaryStatus, data.flagged ? "已标记，该号码已列入骚扰号码" : "已标记为骚扰电话");
      if (data.flagged) document.getElementById("call-flagged").hidden = false;
    } catch (e) {
      say(summaryStatus, e.message, true);
    }
  });

  async function setPaused(paused) {
    try {
      await api("POST", "/api/operator/pause", { paused, reason: document.getElementById("pause-reason").value });
      // The controller reads the seat's command within seconds; the push then shows it.
      say(seatStatus, paused ? "已暂停接听" : "已恢复接听");
    } catch (e) {
      say(seatStatus, e.message, true);
    }
  }
  document.getElementById("pause").addEventListener("click", () => setPaused(true));
  document.getElementById("unpause").addEventListener("click", () => setPaused(false));

  // ------------------------------------------------------------------ 知识库 (the knowledge base)
  // Results are the server's: a snippet comes escaped with its hits in <mark>, so it alone is
  // inserted as HTML; titles and every other field go in as text.
  const kbForm = document.getElementById("kb-form");
  const kbSearch = document.getElementById("kb-search");
  const kbStatus = document.getElementById("kb-status");
  const kbResults = document.getElementById("kb-results");
  const kbAnswered = document.getElementById("kb-answered");
  let kbAsked = 0;
  let kbMissing = false;

  function kbTicked() {
    return [...kbResults.querySelectorAll("input.kb-pick:checked")].map((box) => Number(box.value));
  }

  function kbButton() {
    kbAnswered.disabled = kbMissing || !shownCallId || kbTicked().length === 0;
  }

  function kbItem(article) {
    const snippet = el("p", { class: "snippet" });
    snippet.innerHTML = article.snippet_html || "";
    return el("li", { dataset: { articleId: article.id } },
      el("label", {}, el("input", { type: "checkbox", class: "kb-pick", value: article.id, onchange: kbButton }),
        el("strong", {}, article.title),
        el("span", { class: "kb-meta" }, `${article.unit || ""} · ${article.kind_label || article.kind || ""}`)),
      snippet);
  }

  async function searchKnowledge() {
    const query = kbSearch.value.trim();
    if (!query) { say(kbStatus, "请输入要查的关键词", true); return; }
    const asked = ++kbAsked;
    say(kbStatus, "查询中…");
    try {
      const data = await api("GET", `/api/knowledge/search?${new URLSearchParams({ q: query, limit: "20" })}`);
      if (asked !== kbAsked) return; // an older answer arriving late
      kbMissing = false;
      fill(kbResults, data.results.map(kbItem));
      say(kbStatus, data.total ? `找到 ${data.total} 条` : `没有找到“${query}”，请换个说法试试`, !data.total);
    } catch (e) {
      if (asked !== kbAsked) return;
      // No knowledge base on this hotline yet: say so, the rest of the screen works on.
      kbMissing = e.status === 404;
      fill(kbResults, []);
      say(kbStatus, kbMissing ? "知识库暂未开通，请按常规答复并填写小结" : e.message, true);
    }
    kbButton();
  }

  function newCallForKnowledge() {
    for (const box of kbResults.querySelectorAll("input.kb-pick")) box.checked = false;
    kbButton();
  }

  kbForm.addEventListener("submit", (event) => { event.preventDefault(); searchKnowledge(); });
  kbAnswered.addEventListener("click", async () => {
    const ids = kbTicked();
    if (!shownCallId || !ids.length) return;
    kbAnswered.disabled = true;
    try {
      const data = await api("POST", `/api/calls/${encodeURIComponent(shownCallId)}/knowledge`, { article_ids: ids });
      say(kbStatus, `已记入本通电话：${data.articles.map((a) => a.title).join("、")}`);
      newCallForKnowledge();
    } catch (e) {
      say(kbStatus, e.status === 404 && kbMissing ? "知识库暂未开通，不能记入" : e.message, true);
      kbButton();
    }
  });

  // ------------------------------------------------------------------ 留单 (the ticket form)
  // The form belongs to the call the operator chose (ticketCall); the pushes above never
  // touch it, so nothing typed here is lost when the next call rings in.
  const panel = document.getElementById("ticket-panel");
  const ticketForm = document.getElementById("ticket-form");
  const ticketStatus = document.getElementById("ticket-status");
  const saved = document.getElementById("ticket-saved");
  const fields = {
    category: document.getElementById("ticket-category"), summary: document.getElementById("ticket-summary"),
    name: document.getElementById("ticket-name"), contact: document.getElementById("ticket-contact"),
    address: document.getElementById("ticket-address"), confidential: document.getElementById("ticket-confidential"),
  };
  const unitSearch = document.getElementById("ticket-unit-search");
  const unitOptions = document.getElementById("unit-options");
  const unitPicked = document.getElementById("ticket-unit-picked");
  const saveButton = document.getElementById("save-ticket");
  // console.js keeps the call's labels; the tickets' come from the same vocabulary block.
  const LABELS = JSON.parse(document.getElementById("labels")?.textContent || "{}");
  const TICKET_STATES = LABELS.ticket_states || {};
  const SECRET = (LABELS.confidential || {}).label || "";
  const REASONS = { "same number": "同一号码", "similar summary": "诉求相似" };
  const DIALLABLE = /^[0-9+\-() ]{3,32}$/;
  let ticketCall = null;
  let pickedUnit = null;
  let similarAsked = 0;
  let unitsAsked = 0;

  function debounce(fn, ms) {
    let timer = null;
    return (...args) => { clearTimeout(timer); timer = setTimeout(() => fn(...args), ms); };
  }

  function openTicket(call) {
    if (ticketCall && ticketCall.call_id === call.call_id && !panel.hidden) {
      fields.summary.focus();
      return;
    }
    ticketCall = { call_id: call.call_id, caller_number: call.caller_number || "", arrived: call.arrived };
    const fromCard = shownCall && shownCall.call_id === call.call_id;
    fields.category.value = (fromCard && category.value) || call.category || "consultation";
    fields.summary.value = fromCard ? summary.value : "";
    fields.name.value = call.caller_name || "";
    fields.contact.value = DIALLABLE.test(ticketCall.caller_number) ? ticketCall.caller_number : "";
    fields.address.value = "";
    fields.confidential.checked = false;
    pickUnit(null);
    unitSearch.value = "";
    saved.hidden = true;
    saveButton.disabled = false;
    say(ticketStatus, "");
    document.getElementById("ticket-for").textContent =
      `来电 ${ticketCall.caller_number || "（隐藏号码）"} · ${dateTime(call.arrived)}`;
    panel.dataset.callId = call.call_id;
    panel.hidden = false;
    panel.scrollIntoView({ block: "start" });
    unitSearch.focus();
    lookSimilar();
  }

  function done(text) {
    saved.textContent = text;
    saved.hidden = false;
    saveButton.disabled = true;
    loadRecent();
  }

  // --- the unit picker: code, name or alias, searched as the operator types
  function pickUnit(unit) {
    pickedUnit = unit;
    unitPicked.textContent = unit ? `已选：${unit.name}（${unit.code}）` : "未选择单位";
    unitPicked.classList.toggle("chosen", Boolean(unit));
    if (unit) unitSearch.value = unit.name;
    showOptions([]);
  }

  function showOptions(units) {
    unitOptions.replaceChildren(...units.map((unit) => el("li", { role: "option" },
      el("button", { type: "button", class: "unit-option", dataset: { code: unit.code },
                     onclick: () => pickUnit(unit) },
        el("strong", {}, unit.name), " ", el("span", { class: "hint" }, [unit.code, ...unit.aliases].join(" · "))))));
    unitOptions.hidden = units.length === 0;
    unitSearch.setAttribute("aria-expanded", units.length ? "true" : "false");
  }

  const searchUnits = debounce(async () => {
    const query = unitSearch.value.trim();
    const asked = ++unitsAsked;
    if (!query) { showOptions([]); return; }
    try {
      const data = await api("GET", `/api/units?q=${encodeURIComponent(query)}`);
      if (asked !== unitsAsked) return; // an older answer arriving late
      showOptions(data.units.slice(0, 10));
      if (!data.units.length) say(ticketStatus, `没有找到“${query}”，请换个名称或简称试试`, true);
      else say(ticketStatus, "");
    } catch (e) {
      say(ticketStatus, e.message, true);
    }
  }, 200);

  unitSearch.addEventListener("input", () => { if (pickedUnit) pickUnit(null); searchUnits(); });
  unitSearch.addEventListener("keydown", (event) => {
    if (event.key === "Enter") {
      event.preventDefault(); // Enter picks the first unit offered, it does not save the form
      unitOptions.querySelector("button")?.click();
    } else if (event.key === "ArrowDown") {
      event.preventDefault();
      unitOptions.querySelector("button")?.focus();
    } else if (event.key === "Escape") {
      showOptions([]);
    }
  });

  // --- similar tickets: the same number, or a summary sharing words
  function snippet(pieces) {
    return (pieces || []).map(([text, matched]) => (matched ? el("mark", {}, text) : text));
  }

  function showSimilar(tickets) {
    const list = document.getElementById("similar");
    list.replaceChildren(...tickets.map((ticket) => el("li", { dataset: { ticketId: ticket.ticket_id } },
      el("div", { class: "similar-head" },
        el("strong", {}, `工单 #${ticket.ticket_id}`),
        el("span", { class: "badge" }, label(TICKET_STATES, ticket.state)),
        ticket.confidential ? el("span", { class: "badge confidential" }, SECRET) : "",
        el("span", { class: `badge reason ${ticket.reason === "same number" ? "same" : ""}` },
          label(REASONS, ticket.reason)),
        el("span", { class: "hint" }, `${ticket.unit_name || ticket.unit} · ${dateTime(ticket.created).slice(0, 10)}`)),
      el("p", { class: "snippet" }, snippet(ticket.snippet)),
      el("button", { type: "button", class: "link-call", onclick: () => linkTo(ticket.ticket_id) },
        "同一件事：把本通电话关联到此工单"))));
    document.getElementById("similar-empty").hidden = tickets.length > 0;
  }

  async function lookSimilar() {
    if (!ticketCall) return;
    const params = new URLSearchParams();
    const number = fields.contact.value.trim() || ticketCall.caller_number;
    if (DIALLABLE.test(number)) params.set("number", number);
    const text = fields.summary.value.trim();
    if (text) params.set("summary", text.slice(0, 500));
    const asked = ++similarAsked;
    if (![...params].length) { showSimilar([]); return; }
    try {
      const data = await api("GET", `/api/tickets/similar?${params}`);
      if (asked === similarAsked) showSimilar(data.tickets);
    } catch (e) {
      say(ticketStatus, e.message, true);
    }
  }
  const lookSimilarSoon = debounce(lookSimilar, 400);
  fields.summary.addEventListener("input", lookSimilarSoon);
  fields.contact.addEventListener("change", lookSimilar);

  async function linkTo(ticketId) {
    if (!ticketCall) return;
    try {
      await api("POST", `/api/tickets/${ticketId}/calls`, { call_id: ticketCall.call_id });
      say(ticketStatus, "");
      done(`本通电话已关联到工单 #${ticketId}，无需重复留单`);
    } catch (e) {
      say(ticketStatus, e.message, true);
    }
  }

  ticketForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (!ticketCall) return;
    if (!pickedUnit) { say(ticketStatus, "请先在“承办单位”中输入并从列表里选择一个单位", true); unitSearch.focus(); return; }
    if (!fields.summary.value.trim()) { say(ticketStatus, "请填写诉求内容", true); fields.summary.focus(); return; }
    saveButton.disabled = true;
    say(ticketStatus, "保存中…");
    try {
      const data = await api("POST", `/api/calls/${encodeURIComponent(ticketCall.call_id)}/ticket`, {
        category: fields.category.value, summary: fields.summary.value, unit: pickedUnit.code,
        citizen_name: fields.name.value, contact_number: fields.contact.value, address: fields.address.value,
        confidential: fields.confidential.checked,
      });
      say(ticketStatus, "");
      done(`已留单，工单编号 #${data.ticket_id}（${pickedUnit.name}）`);
    } catch (e) {
      saveButton.disabled = false;
      say(ticketStatus, e.message, true);
    }
  });
  document.getElementById("close-ticket").addEventListener("click", () => { panel.hidden = true; ticketCall = null; });
  document.getElementById("open-ticket").addEventListener("click", () => { if (shownCall) openTicket(shownCall); });

  // --- the seat's recent calls, each with its ticket or a 留单 button
  let recentKey = "";
  async function loadRecent() {
    let data;
    try {
      data = await api("GET", "/api/operator/calls");
    } catch (e) {
      say(seatStatus, e.message, true);
      return;
    }
    const key = data.calls.map((c) => `${c.call_id}:${c.ticket_id || ""}`).join(",");
    if (key === recentKey) return; // unchanged: the rows stay as they are under the mouse
    recentKey = key;
    fill(document.querySelector("#recent tbody"), data.calls.map((c) => el("tr", { dataset: { callId: c.call_id } },
      el("td", {}, dateTime(c.arrived)), el("td", {}, c.caller_number || "（隐藏号码）"),
      el("td", {}, duration(c.talk_seconds)),
      el("td", {}, c.ticket_id ? el("span", { class: "badge" }, `已留单 #${c.ticket_id}`)
        : el("button", { type: "button", class: "ticket-from-call", onclick: () => openTicket(c) }, "留单")))));
    document.getElementById("recent-empty").hidden = data.calls.length > 0;
  }

  // Tickets the supervisor returned to this seat: the note, and a form to correct and resubmit.
  const returnedList = document.getElementById("returned");
  const returnedPanel = document.getElementById("returned-panel");
  const typing = new Set();  // tickets whose form the operator is filling: a refresh keeps them

  function returnedItem(ticket) {
    const summaryField = el("textarea", { maxlength: 500, rows: 2, class: "returned-summary" }, ticket.summary || "");
    const unitField = el("input", { maxlength: 50, size: 16, class: "returned-unit",
                                    placeholder: "如需改派，填写单位名称或代码" });
    const noteField = el("input", { maxlength: 500, class: "returned-note", placeholder: "补正说明（必填）" });
    const secretField = el("input", { type: "checkbox", class: "returned-confidential",
                                      checked: Boolean(ticket.confidential) });
    const status = el("p", { class: "status" });
    for (const field of [summaryField, unitField, noteField, secretField]) {
      field.addEventListener("input", () => typing.add(ticket.ticket_id));
    }
    const form = el("form", { class: "returned-form" },
      el("label", { class: "wide" }, "诉求内容 ", summaryField),
      el("label", {}, "承办单位 ", unitField),
      el("label", {}, secretField, " 市民要求保密"),
      el("label", { class: "grow" }, "补正说明 ", noteField),
      el("button", { type: "submit" }, "补正后重新提交"), status);
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const note = noteField.value.trim();
      if (!note) { say(status, "请填写补正说明", true); return; }
      const body = { note, summary: summaryField.value.trim(), confidential: secretField.checked };
      if (unitField.value.trim()) body.unit = unitField.value.trim();
      try {
        await api("POST", `/api/operator/tickets/${ticket.ticket_id}/resubmit`, body);
        typing.delete(ticket.ticket_id);
        await loadReturned(true);
      } catch (e) {
        say(status, e.message, true);
      }
    });
    return el("li", { dataset: { ticketId: ticket.ticket_id } },
      el("p", {}, el("strong", {}, `#${ticket.ticket_id}`),
        ticket.confidential ? el("span", { class: "badge confidential" }, ` ${SECRET} `) : "",
        ` ${ticket.unit_name || ticket.unit || ""} · `,
        `退回说明：${ticket.return_note || "（无）"}`, ticket.returned_by ? `（${ticket.returned_by}）` : ""),
      form);
  }

  async function loadReturned(force = false) {
    if (typing.size && !force) return;  // never wipe what is being typed
    try {
      const data = await api("GET", "/api/operator/returned");
      fill(returnedList, data.tickets.map(returnedItem));
      returnedPanel.hidden = data.tickets.length === 0;
    } catch (e) {
      returnedPanel.hidden = false;
      fill(returnedList, [el("li", { class: "error" }, `退回工单加载失败：${e.message}`)]);
    }
  }

  // ------------------------------------------------------------------ 三方通话 (three-way calls)
  // Shown on the live call only; the state (dialling, joined, why a unit was not reached)
  // comes with each push of the seat, so the buttons follow what really happens.
  const threeWay = document.getElementById("three-way");
  const threeWayUnit = document.getElementById("three-way-unit");
  const threeWayStatus = document.getElementById("three-way-status");
  const threeWayButtons = {
    start: document.getElementById("three-way-start"), drop: document.getElementById("three-way-drop"),
    leave: document.getElementById("three-way-leave"),
  };
  const unitNames = {};
  let threeWaySetup = "";  // why no unit can be called at all (no trunk, no unit with a phone)
  let threeWayError = "";  // the last refused move, until the next one or the next call

  async function loadThreeWayUnits() {
    try {
      const data = await api("GET", "/api/operator/threeway/units");
      for (const unit of data.units) unitNames[unit.code] = unit.name;
      fill(threeWayUnit, data.units.map((unit) => el("option", { value: unit.code }, unit.name)));
      if (!data.trunk) threeWaySetup = "未配置外线中继，不能呼叫单位";
      else if (!data.units.length) threeWaySetup = "没有登记电话的单位，不能三方通话";
    } catch (e) {
      threeWaySetup = e.message;
    }
  }

  function showThreeWay(call) {
    threeWay.hidden = !(call && call.live && call.phase === "talking");
    if (threeWay.hidden) { threeWayError = ""; return; }
    const state = call.three_way || {};
    const name = (code) => unitNames[code] || code;
    threeWay.dataset.state = state.unit ? (state.joined ? "joined" : "dialling") : "none";
    threeWayButtons.start.disabled = Boolean(state.unit) || !threeWayUnit.options.length;
    threeWayButtons.drop.disabled = !state.unit;
    threeWayButtons.leave.disabled = !state.joined;
    let text = "";
    if (state.unit) text = state.joined ? `三方通话中：${name(state.unit)}` : `正在呼叫 ${name(state.unit)}……`;
    else if (state.note) text = `${name(state.last_unit)}：${label(hotline.THREE_WAY, state.note)}，通话继续`;
    const problem = threeWayError || (state.unit ? "" : threeWaySetup);
    say(threeWayStatus, problem || text, Boolean(problem || (!state.unit && state.note)));
  }

  const threeWayPaths = {
    start: (id) => `/api/calls/${id}/threeway`,
    drop: (id) => `/api/calls/${id}/threeway/hangup-unit`,
    leave: (id) => `/api/calls/${id}/threeway/leave`,
  };

  async function threeWayMove(move, body) {
    if (!shownCallId) return;
    threeWayError = "";
    try {
      await api("POST", threeWayPaths[move](encodeURIComponent(shownCallId)), body);
      refresh();
    } catch (e) {
      threeWayError = e.message;
      say(threeWayStatus, e.message, true);
    }
  }

  threeWayButtons.start.addEventListener("click", () => threeWayMove("start", { unit: threeWayUnit.value }));
  threeWayButtons.drop.addEventListener("click", () => threeWayMove("drop"));
  threeWayButtons.leave.addEventListener("click", () => threeWayMove("leave"));

  // ------------------------------------------------------------------ shortcuts
  // F-keys only, and never while the operator types in a field (Esc leaves the field).
  const TYPING = new Set(["INPUT", "TEXTAREA", "SELECT"]);
  const SHORTCUTS = {
    F2: () => { kbSearch.focus(); kbSearch.select(); },
    F4: () => { if (shownCall) openTicket(shownCall); },
    F6: () => saveSummary(),
    F8: () => setPaused(!(seatNow && seatNow.paused)),
  };
  document.addEventListener("keydown", (event) => {
    const target = event.target;
    const typing = target instanceof HTMLElement && (TYPING.has(target.tagName) || target.isContentEditable);
    if (event.key === "Escape" && typing) { target.blur(); return; }
    const move = SHORTCUTS[event.key];
    if (!move || typing || event.ctrlKey || event.altKey || event.metaKey) return;
    event.preventDefault();
    move();
  });

  loadThreeWayUnits();
  loadReturned();
  setInterval(loadReturned, 15000);
  loadRecent();
  connect();
})();

// The live wallboard: one WebSocket; the server pushes the floor on every change and every second.
"use strict";

(() => {
  const { el, fill, label, duration, say, api } = hotline;
  const waitingBody = document.querySelector("#waiting tbody");
  const waitingEmpty = document.getElementById("waiting-empty");
  const cards = document.getElementById("seat-cards");
  const status = document.getElementById("live-status");
  const alarm = document.getElementById("standard-alarm");
  const healthAlarm = document.getElementById("health-alarm");

  function renderHealth(health) {
    // Asterisk down, the controller deaf, the store behind, no seat phone: say so at once.
    healthAlarm.hidden = health.ok;
    healthAlarm.textContent = health.ok ? "" : `系统告警：${health.problems.join("；")}`;
  }
  const shiftsBody = document.querySelector("#standard-shifts tbody");
  const seatsBody = document.querySelector("#standard-seats tbody");
  const pct = (value) => (value === null || value === undefined ? "–" : `${value.toFixed(2)}%`);

  function renderStandard(standard) {
    // GB/T 33358: a person within 15 s, and at least 95 % connected over any 24 hours.
    const last = standard.last_24h;
    alarm.hidden = !standard.alarm;
    alarm.textContent = standard.alarm
      ? `告警：近24小时接通率 ${pct(last.connection_pct)}（呼入 ${last.offered}，接通 ${last.connected}），`
        + `低于国家标准 ${standard.target_pct}%` : "";
    fill(shiftsBody, standard.by_shift.map((s) => el("tr", { dataset: { shift: s.shift } },
      el("td", {}, s.shift === "-" ? "无人值守时段" : label(hotline.SHIFTS, s.shift, s.shift)),
      el("td", {}, s.offered), el("td", {}, s.connected), el("td", {}, s.answered_within),
      el("td", {}, pct(s.connection_pct)), el("td", {}, pct(s.answer_rate_pct)))));
    fill(seatsBody, standard.by_seat.map((s) => el("tr", { dataset: { seat: s.seat } },
      el("td", {}, s.seat), el("td", {}, s.rung), el("td", {}, s.connected), el("td", {}, s.answered_within),
      el("td", {}, pct(s.connection_pct)), el("td", {}, pct(s.answer_rate_pct)))));
  }

  const shiftFiguresBody = document.querySelector("#shift-figures tbody");
  const share = (value) => (value === null || value === undefined ? "–" : `${Math.round(value * 100)}%`);

  function renderShifts(byShift) {
    // Today per shift of the roster: who was on duty when the calls arrived.
    fill(shiftFiguresBody, byShift.map((s) => el("tr", { dataset: { shift: s.shift } },
      el("td", {}, s.shift === "-" ? "无人值守时段" : label(hotline.SHIFTS, s.shift, s.shift)),
      el("td", { dataset: { figure: "answered" } }, s.answered),
      el("td", { dataset: { figure: "abandoned" } }, s.abandoned),
      el("td", { dataset: { figure: "service_level" } }, share(s.service_level)),
      el("td", { dataset: { figure: "average_wait" } }, s.average_wait === null ? "–" : duration(s.average_wait)))));
  }

  function operatorText(seat) {
    // Operators are people, seats are phones: the card names who is logged in at the seat.
    if (seat.operator === "") return "无人签入";
    if (!seat.operator) return "";
    return `${seat.operator_name ? `${seat.operator_name} ` : ""}工号 ${seat.operator}`;
  }

  function seatState(seat) {
    if (!seat.registered) return ["offline", "话机未注册"];
    if (seat.paused) return ["paused", `暂停（${seat.pause_reason || "无原因"}）`];
    const working = seat.logged_in === null ? seat.on_shift : seat.logged_in;
    if (!working && seat.state === "idle") return ["off", seat.logged_in === false ? "已签出" : "不在班"];
    // The call's phase is the fresher truth while a seat talks (the seat row may still say "ringing").
    const state = seat.call && seat.call.phase === "talking" ? "talking" : seat.state;
    return [state, label(hotline.SEAT_STATES, state)];
  }

  function renderFloor(floor, figures) {
    fill(waitingBody, floor.waiting.map((w) => el("tr", {
      class: w.flagged ? "flagged" : null, dataset: { callId: w.call_id, number: w.number || "" },
    },
      el("td", {}, w.position), el("td", {}, w.number || "（隐藏号码）"), el("td", {}, w.name || ""),
      el("td", { class: "waited" }, duration(w.waited)), el("td", {}, label(hotline.CATEGORIES, w.category, "未选择")),
      el("td", {}, w.flagged ? el("span", { class: "badge flagged" }, "骚扰号码") : ""))));
    waitingEmpty.hidden = floor.waiting.length > 0;
    cards.replaceChildren(...floor.seats.map((seat) => {
      const [css, text] = seatState(seat);
      const call = seat.call;
      return el("div", { class: `seat-card ${css}`, dataset: { seat: seat.seat, state: css } },
        el("div", { class: "name" }, seat.seat, " ", el("span", { class: "meta" }, label(hotline.SHIFTS, seat.shift, ""))),
        el("div", { class: "operator", dataset: { operator: seat.operator || "" } }, operatorText(seat)),
        el("div", { class: "state" }, text),
        el("div", { class: "meta" }, seat.for_seconds === null ? "" : `已持续 ${duration(seat.for_seconds)}`),
        call ? el("div", { class: "meta call", dataset: { number: call.number || "" } },
          `${label(hotline.PHASES, call.phase)}：${call.number || "隐藏号码"} ${call.name || ""}`) : null);
    }));
    const f = figures || {};
    const values = {
      calls: f.calls, answered: f.answered, abandoned: f.abandoned,
      average_wait: f.average_wait === undefined ? undefined : duration(f.average_wait),
      service_level: f.service_level === null || f.service_level === undefined ? "–"
        : `${Math.round(f.service_level * 100)}%`,
      in_ivr: floor.in_ivr, waiting: floor.waiting.length,
      answer_rate: f.standard ? pct(f.standard.today.answer_rate_pct) : undefined,
      connection_24h: f.standard ? pct(f.standard.last_24h.connection_pct) : undefined,
    };
    if (f.standard) renderStandard(f.standard);
    if (f.by_shift) renderShifts(f.by_shift);
    for (const [key, value] of Object.entries(values)) {
      const node = document.querySelector(`[data-figure="${key}"]`);
      if (node && value !== undefined) node.textContent = value;
    }
  }

  let backoff = 1000;
  function connect() {
    const scheme = location.protocol === "https:" ? "wss://" : "ws://";
    const socket = new WebSocket(`${scheme}${location.host}/api/floor/ws`);
    socket.addEventListener("open", () => {
      backoff = 1000;
      status.dataset.state = "live";
      say(status, "实时连接正常");
    });
    socket.addEventListener("message", (event) => {
      const message = JSON.parse(event.data);
      if (message.type === "floor") {
        renderFloor(message.floor, message.figures);
        if (message.health) renderHealth(message.health);
        status.dataset.updated = String(message.floor.at);
      }
    });
    socket.addEventListener("close", (event) => {
      status.dataset.state = "closed";
      if (event.code === 4401) { location.href = "/login"; return; }
      say(status, `实时连接中断，${Math.round(backoff / 1000)} 秒后重连…`, true);
      setTimeout(connect, backoff);
      backoff = Math.min(backoff * 2, 30000);
    });
  }

  api("GET", "/api/floor").then((data) => renderFloor(data.floor, data.figures)).catch((e) => say(status, e.message, true));
  connect();
})();

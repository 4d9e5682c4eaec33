// Operators at seats: log in at a seat (an operator: only themselves), log out; who sits where.
"use strict";

(() => {
  const { api, el, fill, say } = hotline;
  const seatNames = document.body.dataset.seats.split(",");
  const body = document.querySelector("#operators tbody");
  const status = document.getElementById("operators-status");

  async function send(path, payload, done) {
    try {
      await api("POST", path, payload);
      say(status, `${done}（约 1 秒内生效）`);
      await load();
    } catch (e) {
      say(status, e.message, true);
    }
  }

  function row(operator, mine) {
    const choice = el("select", { class: "seat-choice", "aria-label": `${operator.badge} 签入的坐席` },
      ...seatNames.map((seat) => el("option", { value: seat, selected: seat === (operator.seat || operator.home) }, seat)));
    const actions = mine === null || mine === operator.badge ? [
      choice, " ",
      el("button", { type: "button", class: "login", onclick: () => send("/api/operators/login",
        { badge: operator.badge, seat: choice.value }, `${operator.badge} 已签入 ${choice.value}`) }, "签入"),
    ] : [];
    const logout = (mine === null || mine === operator.badge) && operator.seat
      ? el("button", { type: "button", class: "logout", onclick: () => send("/api/operators/logout",
        { badge: operator.badge }, `${operator.badge} 已签出`) }, "签出") : "";
    return el("tr", { dataset: { badge: operator.badge, seat: operator.seat || "" } },
      el("td", {}, operator.badge), el("td", {}, operator.name || "–"), el("td", {}, operator.home),
      el("td", { class: "seat" }, operator.seat || "未签入"), el("td", {}, operator.on_shift ? "在班" : "不在班"),
      el("td", {}, ...actions), el("td", {}, logout));
  }

  async function load() {
    try {
      const data = await api("GET", "/api/operators");
      // A supervisor (me: null) acts for everyone; an operator sees their own row first.
      const mine = data.me;
      const listed = mine === null ? data.operators
        : [...data.operators.filter((o) => o.badge === mine), ...data.operators.filter((o) => o.badge !== mine)];
      fill(body, listed.map((operator) => row(operator, mine)));
    } catch (e) {
      say(status, e.message, true);
    }
  }

  load();
})();

// Seats: log in or out, back to the roster, pause or unpause; and the shift roster editor.
"use strict";

(() => {
  const { api, el, fill, label, duration, say } = hotline;
  const seatNames = document.body.dataset.seats.split(",");
  const seatsBody = document.querySelector("#seats tbody");
  const seatsStatus = document.getElementById("seats-status");
  const rosterBody = document.querySelector("#roster tbody");
  const rosterStatus = document.getElementById("roster-status");

  function working(seat) {
    if (seat.logged_in === true) return "已签入";
    if (seat.logged_in === false) return "已签出";
    return seat.on_shift ? "按排班（在班）" : "按排班（不在班）";
  }

  async function command(seat, action, reason) {
    try {
      await api("POST", `/api/seats/${encodeURIComponent(seat)}`, { action, reason });
      say(seatsStatus, `${seat}：已提交（约 1 秒内生效）`);
      setTimeout(loadSeats, 1200);
    } catch (e) {
      say(seatsStatus, e.message, true);
    }
  }

  // Rows are built once and then updated in place: a refresh must not wipe a reason being typed.
  const rows = new Map();

  function seatRow(name) {
    const reason = el("input", { size: 8, maxlength: 100, placeholder: "暂停原因", class: "reason" });
    const button = (text, action) => el("button", { type: "button", dataset: { action },
      onclick: () => command(name, action, reason.value) }, text);
    const cells = ["shift", "working", "registered", "state", "for", "today"].map((key) => el("td", { class: key }));
    const row = el("tr", { dataset: { seat: name } }, el("td", {}, name), ...cells,
      el("td", { class: "actions" }, button("签入", "login"), " ", button("签出", "logout"), " ",
        button("按排班", "roster"), " ", reason, " ", button("暂停", "pause"), " ", button("恢复", "unpause")));
    seatsBody.append(row);
    return { row, cells };
  }

  async function loadSeats() {
    try {
      const data = await api("GET", "/api/seats");
      for (const seat of data.seats) {
        if (!rows.has(seat.seat)) rows.set(seat.seat, seatRow(seat.seat));
        const { row, cells } = rows.get(seat.seat);
        const texts = [
          label(hotline.SHIFTS, seat.shift), working(seat), seat.registered ? "已注册" : "未注册",
          seat.paused ? `暂停（${seat.pause_reason || "无原因"}）`
            : label(hotline.SEAT_STATES, seat.call && seat.call.phase === "talking" ? "talking" : seat.state),
          seat.for_seconds === null ? "–" : duration(seat.for_seconds), seat.calls_today,
        ];
        texts.forEach((text, index) => { cells[index].textContent = text; });
        row.dataset.paused = seat.paused ? "yes" : "no";
        row.dataset.loggedIn = String(seat.logged_in);
      }
    } catch (e) {
      say(seatsStatus, e.message, true);
    }
  }

  const WEEKDAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
  const WEEKDAY_LABELS = ["一", "二", "三", "四", "五", "六", "日"];
  const rosterGaps = document.getElementById("roster-gaps");

  function showGaps(gaps) {
    // GB/T 33358: the hotline answers 7 x 24; name every hour of the week left uncovered.
    rosterGaps.hidden = gaps.length === 0;
    rosterGaps.textContent = gaps.length ? `排班未覆盖7×24小时，以下时段无人值守：${gaps.join("；")}` : "";
  }

  function shiftRow(shift) {
    const boxes = seatNames.map((name) => el("label", { class: "seat-choice" },
      el("input", { type: "checkbox", class: "seat-box", value: name, checked: shift.seats.includes(name) }), name));
    const days = shift.days || WEEKDAYS;
    const dayBoxes = WEEKDAYS.map((day, index) => el("label", { class: "seat-choice" },
      el("input", { type: "checkbox", class: "day-box", value: day, checked: days.includes(day) }),
      WEEKDAY_LABELS[index]));
    const row = el("tr", {},
      el("td", {}, el("input", { class: "shift-name", value: shift.name, maxlength: 32, size: 10 })),
      el("td", {}, el("input", { class: "shift-start", value: shift.start, pattern: "\\d\\d:\\d\\d", size: 5 })),
      el("td", {}, el("input", { class: "shift-end", value: shift.end, pattern: "\\d\\d:\\d\\d", size: 5 })),
      el("td", {}, ...dayBoxes),
      el("td", {}, ...boxes),
      el("td", {}, el("input", { class: "shift-operators", value: (shift.operators || []).join(" "), size: 12,
        placeholder: "如 1003 1004", "aria-label": "本班话务员工号" })),
      el("td", {}, el("button", { type: "button", onclick: () => row.remove() }, "删除")));
    return row;
  }

  async function loadRoster() {
    try {
      const data = await api("GET", "/api/roster");
      fill(rosterBody, data.shifts.map(shiftRow));
      showGaps(data.gaps);
    } catch (e) {
      say(rosterStatus, e.message, true);
    }
  }

  document.getElementById("add-shift").addEventListener("click", () => {
    rosterBody.append(shiftRow({ name: "", start: "08:00", end: "16:00", seats: [] }));
  });
  document.getElementById("save-roster").addEventListener("click", async () => {
    const shifts = [...rosterBody.querySelectorAll("tr")].map((row) => ({
      name: row.querySelector(".shift-name").value.trim(),
      start: row.querySelector(".shift-start").value.trim(),
      end: row.querySelector(".shift-end").value.trim(),
      seats: [...row.querySelectorAll("input.seat-box:checked")].map((box) => box.value),
      days: [...row.querySelectorAll("input.day-box:checked")].map((box) => box.value),
      operators: row.querySelector(".shift-operators").value.split(/[\s,，]+/).filter(Boolean),
    }));
    try {
      const data = await api("PUT", "/api/roster", { shifts });
      fill(rosterBody, data.shifts.map(shiftRow));
      showGaps(data.gaps);
      say(rosterStatus, "排班已保存并生效");
    } catch (e) {
      say(rosterStatus, e.message, true);
    }
  });

  loadSeats();
  loadRoster();
  setInterval(loadSeats, 3000);
})();

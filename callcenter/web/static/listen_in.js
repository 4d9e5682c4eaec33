// Live supervision on the wallboard: 监听 / 密语 / 强插 / 结束 beside each talking seat. The
// wallboard redraws its seat cards on every change, so the buttons are put back each time.
"use strict";

(() => {
  const { api, el, say } = hotline;
  const cards = document.getElementById("seat-cards");
  const status = document.getElementById("listen-in-status");
  if (!cards || !status) return;
  const user = document.body.dataset.user || "";
  let labels = { modes: {} };
  let phone = null;
  let sessions = [];

  const mine = (seat) => sessions.find((s) => s.supervisor === user && s.seat === seat) || null;

  async function act(seat, mode) {
    try {
      if (mode === null) {
        await api("DELETE", `/api/seats/${encodeURIComponent(seat)}/listen-in`);
        say(status, `已结束对 ${seat} 的监听`);
      } else {
        await api("POST", `/api/seats/${encodeURIComponent(seat)}/listen-in`, { mode });
        say(status, `${labels.modes[mode] || mode}：${seat}，请接听您的主管话机（${phone}）`);
      }
    } catch (e) {
      say(status, e.message, true);
    }
    await refresh();
  }

  function controls(seat) {
    const current = mine(seat);
    const buttons = ["listen", "whisper", "barge"].map((mode) => el("button", {
      type: "button", dataset: { listenIn: mode },
      class: current && current.mode === mode ? "active" : null,
      "aria-pressed": current && current.mode === mode ? "true" : "false",
      onclick: () => act(seat, mode),
    }, labels.modes[mode] || mode));
    buttons.push(el("button", { type: "button", class: "danger", dataset: { listenIn: "stop" },
      disabled: !current, onclick: () => act(seat, null) }, "结束"));
    const note = current ? el("span", { class: "meta" },
      current.phase === "ringing" ? "主管话机振铃中…" : `正在${labels.modes[current.mode] || current.mode}`) : null;
    return el("div", { class: "buttons listen-in", dataset: { seat } }, ...buttons, note);
  }

  function decorate() {
    for (const card of cards.querySelectorAll(".seat-card")) {
      const seat = card.dataset.seat;
      const talking = card.dataset.state === "talking";
      const existing = card.querySelector(".listen-in");
      if (!talking || phone === null) { if (existing) existing.remove(); continue; }
      const fresh = controls(seat);
      if (!existing || existing.textContent !== fresh.textContent
          || existing.querySelector(".active")?.dataset.listenIn !== fresh.querySelector(".active")?.dataset.listenIn) {
        if (existing) existing.replaceWith(fresh); else card.append(fresh);
      }
    }
  }

  async function refresh() {
    try {
      const data = await api("GET", "/api/listen-in");
      labels = data.labels;
      phone = data.phone;
      sessions = data.sessions;
      if (phone === null) say(status, "您的账号没有登记主管话机，不能监听（设置 listen_in.phones）");
    } catch (e) {
      say(status, e.message, true);
    }
    decorate();
  }

  new MutationObserver(decorate).observe(cards, { childList: true });
  refresh();
  setInterval(refresh, 2000);
})();

// One call: its facts, its recording (played in the browser, seekable) and its timeline.
"use strict";

(() => {
  const { api, el, label, duration, dateTime, clock, say } = hotline;
  const callId = document.getElementById("call").dataset.callId;
  const player = document.getElementById("player");
  const playerStatus = document.getElementById("player-status");

  function describe(event) {
    const data = event.data || {};
    const parts = [label(hotline.EVENTS, event.kind)];
    if (event.seat) parts.push(event.seat);
    if (event.kind === "CATEGORY" || event.kind === "SUMMARY") parts.push(label(hotline.CATEGORIES, data.category));
    if (event.kind === "POSITION") parts.push(`第 ${data.position} 位`);
    if (event.kind === "CONNECT") parts.push(`等待 ${duration(data.wait)}`);
    if (data.operator) parts.push(`话务员 ${hotline.operatorText(data.operator, data.operator_name)}`);
    if (event.kind === "PLAYBACK") parts.push(data.prompt || "");
    if (event.kind === "HANGUP" || event.kind === "ABANDON") parts.push(label(hotline.OUTCOMES, data.outcome));
    if (event.kind === "RECORDING") parts.push(duration(data.seconds));
    if (event.kind === "RECORDING_COMPRESSED") {
      parts.push(`${(data.wav_bytes / 1e6).toFixed(2)} MB → ${(data.mp3_bytes / 1e6).toFixed(2)} MB（MP3 ${data.kbps} kbit/s）`);
    }
    if (event.kind === "RECORDING_FAILED") parts.push(label(hotline.RECORDING_STATUSES, data.status));
    if (event.kind === "SUMMARY") parts.push(`${data.by === event.seat ? "" : `${data.by}：`}${data.summary || ""}`);
    if (event.kind === "MARKED_NUISANCE") parts.push(data.by || "");
    if (event.kind.startsWith("UNIT_") || event.kind === "SEAT_LEFT") {  // a three-way call's steps
      parts.push(data.unit_name || data.unit || "", label(hotline.THREE_WAY, data.result, ""),
        label(hotline.THREE_WAY, data.by, ""));
    }
    return parts.filter(Boolean).join(" · ");
  }

  async function load() {
    let data;
    try {
      data = await api("GET", `/api/calls/${encodeURIComponent(callId)}`);
    } catch (e) {
      const error = document.getElementById("call-error");
      error.hidden = false;
      error.textContent = e.message;
      return;
    }
    const call = data.call;
    const facts = [
      ["来电号码", call.caller_number || "（隐藏号码）"], ["姓名", call.caller_name || "–"],
      ["来电时间", dateTime(call.arrived)], ["坐席接通", dateTime(call.seat_answered)],
      ["结束时间", dateTime(call.ended)], ["结果", label(hotline.OUTCOMES, call.outcome, "进行中")],
      ["挂机原因", call.hangup_cause || "–"], ["坐席 / 班次", `${call.seat || "–"} / ${label(hotline.SHIFTS, call.shift)}`],
      ["话务员", hotline.operatorText(call.operator, call.operator_name) || "–"],
      ["分类", label(hotline.CATEGORIES, call.category, "未分类")],
      ["录音", hotline.recordingFailed(call) ? label(hotline.RECORDING_STATUSES, call.recording_status)
        : call.has_recording ? duration(call.recording_seconds) : "无"],
      ["等待 / 通话 / 总时长", `${duration(call.wait_seconds)} / ${duration(call.talk_seconds)} / ${duration(call.total_seconds)}`],
      ["骚扰标记", call.nuisance ? `是（${label(hotline.RULES, call.nuisance_rule)}）` : "否"],
      ["小结", data.summary ? `${data.summary.summary || "（无文字）"}（${data.summary.by}）` : "–"],
    ];
    document.getElementById("facts").replaceChildren(...facts.flatMap(([k, v]) => [el("dt", {}, k), el("dd", {}, v)]));
    document.getElementById("timeline").replaceChildren(...data.events.map((event) =>
      el("li", { dataset: { kind: event.kind } }, el("span", { class: "at" }, clock(event.at)), describe(event))));
    // A recording cut short still plays what there is; a missing or empty one cannot.
    const nothingToPlay = call.recording_status === "missing" || call.recording_status === "empty";
    if (call.has_recording && !nothingToPlay) {
      const source = `/api/calls/${encodeURIComponent(callId)}/recording`;
      player.src = source;
      document.getElementById("download").href = `${source}?download=1`;
      player.dataset.expectedSeconds = call.recording_seconds ?? "";
    } else {
      document.getElementById("recording").hidden = true;
      const none = document.getElementById("no-recording");
      if (nothingToPlay) none.textContent = `${label(hotline.RECORDING_STATUSES, call.recording_status)}：这通电话没有录音。`;
      // Deleted past the retention period: said so, rather than "no recording".
      if (call.recording_pruned) none.textContent = `${label(hotline.EVENTS, "RECORDING_PRUNED")}（${dateTime(call.recording_pruned)}）`;
      none.hidden = false;
    }
  }

  // The state is kept on the element too, so a person (or a test) can see it reached "playing".
  for (const state of ["loadedmetadata", "playing", "pause", "ended", "error"]) {
    player.addEventListener(state, () => {
      player.dataset.state = state;
      if (state === "loadedmetadata") say(playerStatus, `录音时长 ${duration(player.duration)}`);
      if (state === "error") say(playerStatus, "录音无法播放", true);
    });
  }
  document.getElementById("play").addEventListener("click", () => {
    player.play().catch((e) => say(playerStatus, `无法播放：${e.message}`, true));
  });
  load();
})();

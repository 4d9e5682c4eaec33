// Shared by every page: the API call (with the CSRF token), safe DOM building, Chinese labels.
"use strict";

const hotline = (() => {
  const csrf = document.querySelector('meta[name="csrf-token"]')?.content || "";

  async function api(method, path, body) {
    const init = { method, headers: { Accept: "application/json" }, credentials: "same-origin" };
    if (method !== "GET") init.headers["X-CSRF-Token"] = csrf;
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    const response = await fetch(path, init);
    if (response.status === 401) {
      location.href = "/login";
      throw new Error("登录已过期，请重新登录");
    }
    let data = null;
    try { data = await response.json(); } catch (e) { data = null; }
    if (!response.ok) throw new Error((data && data.error) || `请求失败（HTTP ${response.status}）`);
    return data;
  }

  // Text always goes in as text: a caller's name is never parsed as HTML.
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (key === "class") node.className = value;
      else if (key === "dataset") Object.assign(node.dataset, value);
      else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else node.setAttribute(key, value === true ? "" : String(value));
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  function fill(tbody, rows) {
    tbody.replaceChildren(...rows);
  }

  const OUTCOMES = {
    answered: "已接通", abandoned_ivr: "导航中挂断", abandoned_queue: "排队中放弃",
    abandoned_ringing: "振铃中放弃", failed: "失败",
  };
  const CATEGORIES = { consultation: "咨询", complaint: "投诉举报", help: "求助", suggestion: "建议", other: "其他" };
  const SEAT_STATES = { idle: "空闲", ringing: "振铃中", talking: "通话中", wrapup: "话后整理" };
  const PHASES = { ringing: "振铃中", talking: "通话中" };
  const EVENTS = {
    ARRIVED: "来电接入", ANSWERED: "系统应答", GREETING: "播放欢迎语", PLAYBACK: "播放提示音",
    MENU_TIMEOUT: "菜单未选择", OPERATOR: "选择人工", CATEGORY: "菜单选择分类", DTMF_IGNORED: "无效按键",
    ENTERQUEUE: "进入排队", POSITION: "播报排队位置", RINGSEAT: "坐席振铃", RINGNOANSWER: "坐席未接",
    RINGFAILED: "坐席振铃失败", CONNECT: "坐席接通", COMPLETEAGENT: "坐席挂机", COMPLETECALLER: "来电人挂机",
    HANGUP: "通话结束", ABANDON: "来电人放弃", FAILED: "呼叫失败", RECORDING: "录音完成", READOPTED: "控制器恢复接管",
    LOST: "控制器离线时结束", SUMMARY: "话务员小结", MARKED_NUISANCE: "标记为骚扰", NUISANCE_WARNING: "播放骚扰提醒", NUISANCE_FLAGGED: "骚扰号码来电",
    HARD_LIMIT: "超过呼叫上限挂断",
  };
  const SHIFTS = { night: "夜班", day: "白班", evening: "晚班" };
  const NUISANCE_ACTIONS = { flag: "标记", clear: "解除", mark: "话务员标记" };
  const RULES = { "repeat-short-calls": "短时间内多次短呼", "operator-marks": "话务员多次标记", manual: "手动标记" };

  function label(map, key, fallback = "–") {
    if (key === null || key === undefined || key === "") return fallback;
    return map[key] || key;
  }

  function duration(seconds) {
    if (seconds === null || seconds === undefined || Number.isNaN(Number(seconds))) return "–";
    const total = Math.max(0, Math.round(Number(seconds)));
    const h = Math.floor(total / 3600), m = Math.floor((total % 3600) / 60), s = total % 60;
    const mm = String(m).padStart(h ? 2 : 1, "0"), ss = String(s).padStart(2, "0");
    return h ? `${h}:${mm}:${ss}` : `${mm}:${ss}`;
  }

  // Stored times are local ISO with offset ("2026-11-28T21:35:12+08:00"): shown as written.
  function dateTime(iso) { return iso ? String(iso).slice(0, 19).replace("T", " ") : "–"; }
  function clock(iso) { return iso ? String(iso).slice(11, 19) : "–"; }
  function epochDateTime(epoch) {
    if (!epoch) return "–";
    const d = new Date(epoch * 1000);
    const p = (n) => String(n).padStart(2, "0");
    return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}`;
  }

  function say(node, text, isError = false) {
    node.textContent = text;
    node.classList.toggle("error", isError);
  }

  return { api, el, fill, label, duration, dateTime, clock, epochDateTime, say,
           OUTCOMES, CATEGORIES, SEAT_STATES, SHIFTS, PHASES, EVENTS, NUISANCE_ACTIONS, RULES };
})();

// The wallboard's panel of today's most-used knowledge-base articles (已据此答复), refreshed each minute.
"use strict";

(() => {
  const { api, el } = hotline;
  const panel = document.querySelector('[data-slot="knowledge-top-today"]');
  if (!panel) return;

  async function load() {
    try {
      const top = await api("GET", "/api/knowledge/top?limit=5");
      panel.replaceChildren(el("h2", {}, "今日常用信息库条目"),
        top.length ? el("ol", { class: "knowledge-top" }, top.map((a) => el("li", { dataset: { articleId: a.id } },
          el("a", { href: `/knowledge/${a.id}` }, a.title), ` · ${a.unit_name} · ${a.uses} 次`)))
          : el("p", { class: "empty" }, "今天还没有据信息库答复的来电"));
      panel.hidden = false;
    } catch (e) {
      panel.hidden = true;  // the wallboard's other panels matter more than this one
    }
  }

  load();
  setInterval(load, 60_000);
})();

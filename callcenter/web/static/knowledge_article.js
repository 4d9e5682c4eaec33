// One article of the knowledge base, with every version it had.
"use strict";

(() => {
  const { api, el, fill, dateTime, say } = hotline;
  const box = document.getElementById("article");
  const status = document.getElementById("article-status");
  const id = box.dataset.articleId;
  const VALIDITY = (JSON.parse(document.getElementById("labels").textContent).knowledge_validity) || {};

  async function load() {
    try {
      const a = await api("GET", `/api/knowledge/articles/${encodeURIComponent(id)}`);
      document.getElementById("article-title").textContent = a.title;
      const dates = [a.valid_from ? `自 ${a.valid_from}` : "", a.valid_until ? `至 ${a.valid_until}` : ""].join(" ").trim();
      document.getElementById("article-meta").textContent = [a.unit_name, a.kind_label, VALIDITY[a.validity] || a.validity,
        dates, a.owner ? `责任科室：${a.owner}` : "", a.keywords ? `关键词：${a.keywords}` : "",
        `第 ${a.version} 版，${dateTime(a.updated_at)} 由 ${a.updated_by} 保存`].filter(Boolean).join(" · ");
      // body_html is the server's Markdown rendering with raw HTML off (markdown-it): tags in a body are text.
      document.getElementById("article-body").innerHTML = a.body_html;
      const edit = document.getElementById("edit-link");
      edit.hidden = !a.may_edit;
      edit.href = `/knowledge/${a.article_id}/edit`;
      fill(document.querySelector("#versions tbody"), a.versions.map((v) => el("tr", { dataset: { version: v.version } },
        el("td", {}, `第 ${v.version} 版`), el("td", {}, dateTime(v.saved_at)), el("td", {}, v.saved_by), el("td", {}, v.title))));
      box.hidden = false;
      say(status, "");
    } catch (e) {
      say(status, e.message, true);
    }
  }

  load();
})();

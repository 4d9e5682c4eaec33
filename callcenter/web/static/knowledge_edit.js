// Add or edit an article of the knowledge base; the server keeps every version.
"use strict";

(() => {
  const { api, el, say } = hotline;
  const form = document.getElementById("edit");
  const status = document.getElementById("edit-status");
  const id = form.dataset.articleId;
  const FIELDS = ["title", "unit", "kind", "keywords", "valid_from", "valid_until", "owner", "body"];
  let version = null;

  async function start() {
    const choices = await api("GET", "/api/knowledge/choices");
    form.elements.unit.append(...choices.units.map((u) => el("option", { value: u.code }, u.name)));
    form.elements.kind.append(...choices.kinds.map((k) => el("option", { value: k.code }, k.label)));
    if (!id) return;
    const a = await api("GET", `/api/knowledge/articles/${encodeURIComponent(id)}`);
    for (const name of FIELDS) form.elements[name].value = a[name] || "";
    version = a.version;
    document.getElementById("cancel-link").href = `/knowledge/${a.article_id}`;
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const body = {};
    for (const name of FIELDS) body[name] = form.elements[name].value;
    say(status, "正在保存…");
    try {
      const saved = id ? await api("PUT", `/api/knowledge/articles/${encodeURIComponent(id)}`, { ...body, version })
        : await api("POST", "/api/knowledge/articles", body);
      location.href = `/knowledge/${saved.id}`;
    } catch (e) {
      say(status, e.message, true);
    }
  });
  start().catch((e) => say(status, e.message, true));
})();

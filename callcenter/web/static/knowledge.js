// The knowledge base (政务信息库): search with filters; the hits come back highlighted.
"use strict";

(() => {
  const { api, el, say } = hotline;
  const form = document.getElementById("search");
  const list = document.getElementById("results");
  const status = document.getElementById("knowledge-status");
  const unitSelect = document.getElementById("unit");
  const kindSelect = document.getElementById("kind");
  const VALIDITY = (JSON.parse(document.getElementById("labels").textContent).knowledge_validity) || {};

  // The server escapes the snippet and marks the hits; only text and <mark> are kept here
  // all the same, so nothing in an article can ever become markup on this page.
  function marked(html) {
    const template = document.createElement("template");
    template.innerHTML = html;
    const out = [];
    for (const node of template.content.childNodes) {
      if (node.nodeType === Node.TEXT_NODE) out.push(node.textContent);
      else if (node.nodeName === "MARK") out.push(el("mark", {}, node.textContent));
      else out.push(node.textContent);
    }
    return out;
  }

  function hit(result) {
    return el("li", { dataset: { articleId: result.id } },
      el("a", { href: `/knowledge/${result.id}`, class: "knowledge-title" }, marked(result.title_html)),
      el("span", { class: "hint" }, ` ${result.unit_name} · ${result.kind_label} · 更新于 ${result.updated_at.slice(0, 10)}`,
        result.validity !== "valid" ? ` · ${VALIDITY[result.validity] || result.validity}` : ""),
      el("p", { class: "knowledge-snippet" }, marked(result.snippet_html)));
  }

  async function load() {
    const params = new URLSearchParams();
    for (const [key, value] of new FormData(form)) if (value) params.set(key, value);
    history.replaceState(null, "", params.toString() ? `?${params}` : location.pathname);
    say(status, "查找中…");
    try {
      const data = await api("GET", `/api/knowledge/search?${params}`);
      list.replaceChildren(...data.results.map(hit));
      const shown = data.results.length < data.total ? `，显示前 ${data.results.length} 条` : "";
      say(status, data.total ? `共 ${data.total} 条${shown}` : "没有找到相关条目，可换个说法或减少字数再试");
    } catch (e) {
      say(status, e.message, true);
    }
  }

  async function start() {
    const choices = await api("GET", "/api/knowledge/choices");
    unitSelect.append(...choices.units.map((u) => el("option", { value: u.code }, u.name)));
    kindSelect.append(...choices.kinds.map((k) => el("option", { value: k.code }, k.label)));
    document.getElementById("new-article").hidden = !choices.may_create;
    const given = new URLSearchParams(location.search);
    for (const name of ["q", "unit", "kind"]) if (given.get(name)) form.elements[name].value = given.get(name);
    await load();
  }

  form.addEventListener("submit", (event) => { event.preventDefault(); load(); });
  start().catch((e) => say(status, e.message, true));
})();

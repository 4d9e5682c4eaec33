"""The knowledge base (政务信息库): what operators answer consultations from on the spot.

For each responsible unit (`config/units.toml`) its articles: organisation, functions,
policy basis, procedures, regulated matters and common questions, the body in Markdown,
valid between two dates, every version kept. Supervisors and the owning unit's accounts
edit; operators read (expired articles hidden). An operator's 「已据此答复」 links the
articles to the call and marks it settled from the base; the briefing counts them.

The rooms: `article` (an article and its checks), `search` (words, the FTS5 query,
snippets; pure), `synonyms`, `markdown_folder` and `csv_file` (import and export),
`rendering` (Markdown to safe HTML), `repository` (every SQL statement), `service`
(what the console and the command line do).
"""

from callcenter.knowledge.article import Article, KnowledgeError

__all__ = ["Article", "KnowledgeError"]

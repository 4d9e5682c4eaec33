"""The house rules that keep the layout a map: SQL lives only in the store package and
the repositories; the vocabulary is defined once; no module cites an issue number or a
document the repository does not have."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from callcenter import vocabulary
from tests.harness import HOME

PACKAGE = HOME / "callcenter"
# What may run SQL: the store's own runtime and schema, one repository per noun, and the
# benchmark's read-only repository of measurement queries.
SQL_ALLOWED = re.compile(r"^(callcenter/(store/.*|[a-z_]+/repository)|bench/repository)\.py$")
# The store's entry points for repositories, and the raw DB-API ones.
RAW_SQL_CALLS = frozenset({"reading", "transaction", "snapshot", "queue_upsert", "queue_insert", "query",
                           "execute", "executemany", "executescript"})
STORE_CALLS = frozenset({"reading", "transaction", "snapshot"})
SQL_TEXT = re.compile(r"\b(SELECT\s.+\sFROM|INSERT\s+INTO|UPDATE\s+\w+\s+SET|DELETE\s+FROM|CREATE\s+(TABLE|INDEX)"
                      r"|ALTER\s+TABLE|PRAGMA\s+\w+)", re.IGNORECASE | re.DOTALL)


def _sources() -> list[Path]:
    return sorted([*PACKAGE.rglob("*.py"), *(HOME / "bench").rglob("*.py")])


def _relative(path: Path) -> str:
    return path.relative_to(HOME).as_posix() if path.is_relative_to(HOME) else path.name


def _sql_offences(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    found: list[str] = []
    for node in ast.walk(tree):
        # `floor.snapshot()` (the controller's view of the floor) takes no argument; the
        # store's `snapshot(fn)` does.
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in RAW_SQL_CALLS \
                and (node.args or node.keywords or node.func.attr not in STORE_CALLS):
            found.append(f"{_relative(path)}:{node.lineno}: calls .{node.func.attr}()")
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and SQL_TEXT.search(node.value):
            found.append(f"{_relative(path)}:{node.lineno}: SQL text {node.value[:40]!r}")
    return found


def test_sql_is_written_only_in_the_store_package_and_the_repositories() -> None:
    offences = [offence for path in _sources() if not SQL_ALLOWED.match(_relative(path))
                for offence in _sql_offences(path)]
    assert offences == []


def test_the_sql_check_would_catch_a_module_that_queries_the_store(tmp_path: Path) -> None:
    sneaky = tmp_path / "sneaky.py"
    sneaky.write_text('async def count(store):\n    return await store.reading(lambda db: db.query("SELECT 1"))\n'
                      'LATER = "select number from calls where x = 1"\n')
    offences = _sql_offences(sneaky)
    assert len(offences) == 3 and any("calls .reading()" in o for o in offences)


def test_every_repository_and_the_store_hold_sql_so_the_allowance_is_not_too_wide() -> None:
    allowed = [path for path in _sources() if SQL_ALLOWED.match(_relative(path))]
    assert allowed and all(path.name == "repository.py" or path.parent.name == "store" for path in allowed)


def test_the_categories_and_outcomes_are_spelled_out_only_in_the_vocabulary() -> None:
    # A literal tuple/list/set/dict of two or more of the category (or outcome) words is a copy.
    words = {str(c) for c in vocabulary.Category} | {str(o) for o in vocabulary.Outcome}
    copies: list[str] = []
    for path in PACKAGE.rglob("*.py"):
        if path.name == "vocabulary.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Dict):
                items: list[ast.expr | None] = list(node.keys)
            elif isinstance(node, ast.Tuple | ast.List | ast.Set):
                items = list(node.elts)
            else:
                continue
            literal = {item.value for item in items if isinstance(item, ast.Constant) and item.value in words}
            if len(literal) >= 2:
                copies.append(f"{_relative(path)}:{node.lineno}: {sorted(literal)}")
    scripts = (PACKAGE / "web" / "static").glob("*.js")
    copies += [f"{_relative(js)}: a label table" for js in scripts
               if re.search(r"consultation\s*:\s*\"咨询\"|answered\s*:\s*\"已接通\"", js.read_text(encoding="utf-8"))]
    assert copies == []


def test_no_comment_or_docstring_cites_an_issue_number_or_a_missing_document() -> None:
    cites = re.compile(r"\(issue \d+\)|\bissue \d+\b|design\.md|docs/report-keys\.md|\.\./shared")
    found = [f"{_relative(path)}:{n}" for path in _sources()
             for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1) if cites.search(line)]
    readme = (HOME / "README.md").read_text(encoding="utf-8")
    found += [f"README.md: {match.group()}" for match in re.finditer(r"\.\./shared[^\s)]*|`issues[^`]*`", readme)]
    assert found == []

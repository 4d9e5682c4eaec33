"""Words that mean the same in a search: a small file the hotline keeps
(`config/knowledge_synonyms.toml`), and every unit's name with its aliases
(`config/units.toml`), so that 泽州 finds the articles of 泽州县人民政府."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from callcenter.errors import ConfigError
from callcenter.settings import Settings
from callcenter.tickets.directory import Directory

GROUP_MAX = 50


def synonyms_file(settings: Settings) -> Path:
    return settings.home / "config" / "knowledge_synonyms.toml"


@dataclass(frozen=True)
class Synonyms:
    groups: tuple[tuple[str, ...], ...]
    _index: dict[str, tuple[str, ...]] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        for group in self.groups:
            for word in group:
                joined = self._index.get(word.lower(), ())
                self._index[word.lower()] = tuple(dict.fromkeys([*joined, *group]))

    def of(self, word: str) -> tuple[str, ...]:
        """The other words for `word` (none when it has no group)."""
        return tuple(w for w in self._index.get(word.lower(), ()) if w.lower() != word.lower())


def load_synonyms(path: Path, directory: Directory) -> Synonyms:
    """The groups of the file (a missing file has none) and of the units; ConfigError
    naming the file and the group when one is wrong."""
    groups: list[tuple[str, ...]] = [(u.name, *u.aliases) for u in directory.units if u.aliases]
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return Synonyms(tuple(groups))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    unknown = set(raw) - {"groups"}
    if unknown:
        raise ConfigError(f"{path}: unknown key {sorted(unknown)[0]!r} (only groups = [[...], ...])")
    entries = raw.get("groups", [])
    if not isinstance(entries, list):
        raise ConfigError(f"{path}: groups must be a list of lists of words")
    for n, entry in enumerate(entries, 1):
        if (not isinstance(entry, list) or not 2 <= len(entry) <= GROUP_MAX
                or not all(isinstance(w, str) and w.strip() for w in entry)):
            raise ConfigError(f"{path}: group #{n} must be a list of 2 to {GROUP_MAX} words, got {entry!r}")
        groups.append(tuple(w.strip() for w in entry))
    return Synonyms(tuple(groups))

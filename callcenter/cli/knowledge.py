"""`hotline knowledge import PATH | export PATH`: the knowledge base (政务信息库) from and to
a folder of Markdown files (one article a file, see `callcenter.knowledge.markdown_folder`)
or one CSV file (a path ending in .csv)."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable
from pathlib import Path

from callcenter.cli.common import Commands, add_database_option, database_path, who, with_store
from callcenter.knowledge.article import KnowledgeError
from callcenter.knowledge.csv_file import format_csv, read_csv
from callcenter.knowledge.markdown_folder import read_folder, write_folder
from callcenter.services import Services
from callcenter.settings import Settings
from callcenter.store import Store


def _progress(verb: str) -> Callable[[int], None]:
    def show(n: int) -> None:
        # On a terminal the line is rewritten in place; a log gets a line a hundred articles.
        print(f"{verb} {n} articles", end="\r" if sys.stdout.isatty() else "\n", flush=True)

    return show


def _import(settings: Settings, args: argparse.Namespace) -> int:
    source: Path = args.path
    if not source.exists():
        raise KnowledgeError(f"{source}: no such file or folder")
    is_csv = source.is_file() and source.suffix.lower() == ".csv"
    if source.is_file() and not is_csv:
        raise KnowledgeError(f"{source}: give a folder of .md files or a .csv file")

    async def work(store: Store) -> str:
        service = Services.on(settings, store).knowledge
        entries = await asyncio.to_thread(lambda: list(read_csv(source) if is_csv else read_folder(source)))
        report = await service.import_articles(entries, who(args), _progress("checked"))
        return (f"imported {len(entries)} articles from {source}: {report.created} new, {report.updated} changed,"
                f" {report.unchanged} unchanged")

    print(with_store(database_path(settings, args, must_exist=False), work))
    return 0


def _export(settings: Settings, args: argparse.Namespace) -> int:
    target: Path = args.path
    to_csv = target.suffix.lower() == ".csv"
    if to_csv and target.is_dir():
        raise KnowledgeError(f"{target}: is a folder; a CSV export needs a file name")
    if not to_csv and target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise KnowledgeError(f"{target}: exists and is not an empty folder (an export never overwrites)")

    async def work(store: Store) -> str:
        rows = await Services.on(settings, store).knowledge.export_rows()
        if to_csv:
            await asyncio.to_thread(target.write_text, format_csv(rows), encoding="utf-8")
        else:
            await asyncio.to_thread(write_folder, target, rows)
        return f"exported {len(rows)} articles to {target}"

    print(with_store(database_path(settings, args), work))
    return 0


def register(commands: Commands) -> None:
    knowledge = commands.add_parser("knowledge", help="the knowledge base (政务信息库): import, export")
    actions = knowledge.add_subparsers(dest="knowledge_action", required=True, metavar="ACTION")
    load = actions.add_parser("import", help="articles from a folder of .md files or a .csv file (new or changed)")
    load.add_argument("path", type=Path)
    load.add_argument("--by", help="who imports, for each article's history (default: the login name)")
    add_database_option(load)
    load.set_defaults(handler=_import)
    save = actions.add_parser("export", help="every article to a new folder (<unit>/<id>.md) or a .csv file")
    save.add_argument("path", type=Path)
    add_database_option(save)
    save.set_defaults(handler=_export)

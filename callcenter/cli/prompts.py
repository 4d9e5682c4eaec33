"""`hotline prompts build`: the IVR prompts, built by TTS from ivr/prompts.toml."""

from __future__ import annotations

import argparse

from callcenter.cli.common import Commands
from callcenter.settings import Settings


def build(settings: Settings, args: argparse.Namespace) -> int:
    """Build the prompts (cached by text), print where they are."""
    from callcenter.prompts import build_prompts

    folder = build_prompts(settings, force=bool(getattr(args, "force", False)))
    print(f"prompts ready in {folder}")
    return 0


def register(commands: Commands) -> None:
    parser = commands.add_parser("prompts", help="the IVR prompts")
    actions = parser.add_subparsers(dest="prompts_action", required=True, metavar="ACTION")
    actions.add_parser("build", help="build the prompts from ivr/prompts.toml (TTS, cached)").set_defaults(
        handler=build)

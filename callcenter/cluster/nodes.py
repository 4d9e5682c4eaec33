"""A cluster's Asterisk nodes as settings: each the embedded Asterisk of one machine, made
a node by a few settings over the hotline's own (nothing else of its rendering changes).

A node has its system name (the start of every channel id, so the controller knows
where a channel lives), its own state folder and SIP address, and `asterisk.proxy`: the
phones register at Kamailio and the node rings them through it (pjsip.conf.j2). The
recordings go to the one folder all nodes share, and every node holds the same
credentials (ARI and AMI for the controller; the phones' passwords are Kamailio's, from
the same file).
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from callcenter.settings import Settings


@dataclass(frozen=True, slots=True)
class Node:
    """One node: its name (letters, digits, _) and the address its SIP listens on."""

    name: str
    address: str

    def overrides(self, proxy: str, state_dir: Path, recordings_dir: Path) -> dict[str, str]:
        """The HOTLINE_* settings that make an instance this node behind `proxy`
        ("address:port" of Kamailio)."""
        return {
            "HOTLINE_ASTERISK_SYSTEM_NAME": self.name,
            "HOTLINE_ASTERISK_SIP_BIND": self.address,
            "HOTLINE_ASTERISK_PROXY": proxy,
            "HOTLINE_PATHS_STATE_DIR": str(state_dir),
            "HOTLINE_PATHS_RECORDINGS_DIR": str(recordings_dir),
        }


def share_credentials(nodes: Sequence[Settings]) -> None:
    """Every node gets the first node's credentials file (generated there if missing):
    one ARI user for the controller, the phones' passwords Kamailio checks."""
    first, *others = nodes
    first.credentials()
    for other in others:
        other.paths.state_dir.mkdir(parents=True, exist_ok=True)
        shutil.copy2(first.credentials_file, other.credentials_file)  # keeps its 0600


def dispatcher_targets(nodes: Mapping[str, Settings]) -> list[tuple[str, str]]:
    """(name, "address:port") of each node's SIP, for Kamailio's dispatcher list."""
    return [(name, f"{s.asterisk.sip_bind}:{s.asterisk.sip_port}") for name, s in nodes.items()]


def phone_accounts(settings: Settings) -> dict[str, str]:
    """Every phone's account (seats and supervisors): user name -> password, for
    Kamailio's `subscriber` table."""
    creds = settings.credentials()
    return {**creds.seat_passwords, **creds.supervisor_passwords}

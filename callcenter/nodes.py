"""The Asterisk nodes one controller drives, and on which node each channel lives.

One Asterisk by default; in a cluster (`asterisk.nodes`) several, each with an ARI
connection of its own. A channel never moves between nodes, so every request about it
goes to the node it is on. Which node that is needs no table: each node's Asterisk
starts its channel ids with its system name ("node2-1733390000.17"), and every id the
controller makes for a call (seat and unit legs, playbacks) starts with the call's id.
Ids that start otherwise (a supervision's, a callback's) are placed by whoever makes
them, with the node of the channel they belong with.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from callcenter.ari import AriClient


class Nodes:
    """The nodes' ARI clients by name, in the configured order (the first is the default)."""

    def __init__(self, clients: Mapping[str, AriClient]) -> None:
        if not clients:
            raise ValueError("a controller needs at least one Asterisk node")
        self._clients = dict(clients)
        self.default = next(iter(self._clients))

    def __len__(self) -> int:
        return len(self._clients)

    def __iter__(self) -> Iterator[str]:
        return iter(self._clients)

    def client(self, node: str) -> AriClient:
        return self._clients[node]

    def node_of(self, object_id: str, fallback: str = "") -> str:
        """The node an id lives on: its prefix up to the first '-' when that names a node,
        else `fallback` (the node of what it belongs with), else the default node."""
        prefix = object_id.split("-", 1)[0]
        if prefix in self._clients:
            return prefix
        return fallback if fallback in self._clients else self.default

    def of(self, object_id: str, fallback: str = "") -> AriClient:
        """The ARI client of the node `object_id` lives on."""
        return self._clients[self.node_of(object_id, fallback)]

    @property
    def clustered(self) -> bool:
        return len(self._clients) > 1

"""`/metrics` in Prometheus' text format (the maintained prometheus-client library), for a
city's monitoring: calls by outcome, callers waiting, seats by state, ARI connections,
the store's write lag, waiting and dropped writes, recording failures, the free space of
the recordings' and the database's disks, and whether the hotline is healthy. Like
`/healthz`, no log-in and this machine only (a Prometheus or node agent beside it)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from aiohttp import web
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from callcenter.vocabulary import Outcome, SeatState


class Snapshot(Collector):
    """The values of one scrape, gathered beforehand (some need the store)."""

    def __init__(self, health: Mapping[str, Any], floor: Mapping[str, Any], counters: Mapping[str, Any],
                 today: Mapping[str, Any]) -> None:
        self.health, self.floor, self.counters, self.today = health, floor, counters, today

    def collect(self) -> Iterator[Metric]:
        finished = CounterMetricFamily("hotline_calls_finished", "Calls finished since the controller started",
                                       labels=["outcome"])
        by_outcome = self.counters.get("finished") or {}
        for outcome in Outcome:
            finished.add_metric([str(outcome)], float(by_outcome.get(str(outcome), 0)))
        yield finished
        today = GaugeMetricFamily("hotline_calls_today", "Calls arrived today (hotline time zone), by outcome",
                                  labels=["outcome"])
        for outcome in Outcome:
            key = "answered" if outcome is Outcome.ANSWERED else str(outcome)
            today.add_metric([str(outcome)], float(self.today.get(key, 0)))
        yield today
        controller = self.health.get("controller") or {}
        yield GaugeMetricFamily("hotline_callers_waiting", "Callers waiting for a seat (greeted or in line)",
                                value=float(controller.get("callers_waiting", 0)))
        seats = GaugeMetricFamily("hotline_seats", "Seats by state", labels=["state"])
        states = [str(seat.get("state")) for seat in self.floor.get("seats", [])]
        for state in SeatState:
            seats.add_metric([str(state)], float(states.count(str(state))))
        yield seats
        yield GaugeMetricFamily("hotline_seats_registered", "Seat phones registered",
                                value=float(controller.get("seats_registered", 0)))
        yield CounterMetricFamily("hotline_ari_connections", "Connections to ARI's events (first one and reconnects)",
                                  value=float(self.counters.get("ari_connections", 0)))
        yield GaugeMetricFamily("hotline_ari_connected", "1 when the controller hears ARI's events",
                                value=1.0 if controller.get("ari_connected") else 0.0)
        yield GaugeMetricFamily("hotline_store_write_lag_seconds", "Age of the oldest write not yet committed",
                                value=float(self.health.get("store_write_lag") or 0.0))
        yield GaugeMetricFamily("hotline_store_pending_writes", "Writes waiting for a commit (merged per row "
                                "while commits fail)", value=float(self.health.get("store_pending_writes") or 0))
        yield CounterMetricFamily("hotline_store_dropped_writes", "Writes dropped while commits failed, over the "
                                  "limit of what may wait", value=float(self.health.get("store_dropped_writes") or 0))
        yield CounterMetricFamily("hotline_recording_failures", "Recordings missing, empty or cut short",
                                  value=float(self.counters.get("recording_failures", 0)))
        free = GaugeMetricFamily("hotline_disk_free_bytes", "Bytes free on the disk of the recordings, of the "
                                 "database", labels=["what"])
        for disk in self.health.get("disks") or []:
            for what in disk.get("what", []):
                free.add_metric([str(what)], float(disk.get("free_bytes") or 0))
        yield free
        yield GaugeMetricFamily("hotline_healthy", "1 when /healthz finds no problem",
                                value=1.0 if self.health.get("ok") else 0.0)


def exposition(snapshot: Snapshot) -> bytes:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(snapshot)
    return generate_latest(registry)


def metrics_response(snapshot: Snapshot) -> web.Response:
    return web.Response(body=exposition(snapshot), headers={"Content-Type": "text/plain; version=0.0.4; charset=utf-8"})

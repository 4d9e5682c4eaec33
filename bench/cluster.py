"""Cluster benchmark: the call flow of bench/callflow.py through Kamailio to two Asterisk
nodes (PostgreSQL as the store, one controller driving both), against the single-node
engine in the same run, alternating rate by rate so that machine noise hits both.

    .venv/bin/python bench/callflow.py ... # the single node alone, in depth
    .venv/bin/python bench/cluster.py --seats 30 --rates 10,20,30,40

Per rate and set-up: failed calls (SIPp's, and rows not answered), INVITE->200 p50/p99
(SIPp), calls per node, CPU per call of each part (Kamailio, each Asterisk, the
controller, PostgreSQL, SIPp) and PostgreSQL's commits and row writes per call. On two
cores the cluster cannot be faster than one node: what it shows is what each part
costs, the ground of the README's capacity model for N nodes.
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

HOME = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(HOME))

import psycopg  # noqa: E402

from bench.callflow import (  # noqa: E402
    BENCH_SIPP,
    DTMF_0,
    Bench,
    Options,
    cpu_seconds,
    percentile,
    rtt_values,
    say,
    sipp_stats,
    stat_int,
    stop_process,
    wait_with_rusage,
)
from bench.repository import ClusterBenchStore  # noqa: E402
from callcenter import pbx  # noqa: E402
from callcenter.cluster import kamailio  # noqa: E402
from callcenter.cluster import nodes as cluster_nodes  # noqa: E402
from callcenter.postgres import server as pg  # noqa: E402
from callcenter.settings import Settings, load_settings  # noqa: E402
from tests.harness import LOOPBACK, free_media_port, free_port, instance_env  # noqa: E402

PROXY_ADDRESS = "127.0.0.10"


@dataclass
class Result:
    setup: str
    rate: float
    calls: int = 0
    failed: int = 0
    invite_p50: float | None = None
    invite_p99: float | None = None
    per_node: dict[str, int] = field(default_factory=dict)
    cpu_ms: dict[str, float] = field(default_factory=dict)  # per call, by part
    commits: float = 0.0  # PostgreSQL commits per call
    row_writes: float = 0.0  # PostgreSQL rows inserted + updated per call

    @property
    def passed(self) -> bool:
        return self.calls > 0 and self.failed == 0


def _group_cpu(leader: int) -> float:
    """CPU seconds of every live process in the leader's process group (Kamailio forks)."""
    total = 0.0
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if os.getpgid(int(entry.name)) == leader:
                    total += cpu_seconds(int(entry.name))
            except (ProcessLookupError, PermissionError):
                continue
    return total


def _children_cpu(parent: int) -> float:
    """CPU seconds of a process and its live children (PostgreSQL's backends)."""
    total = cpu_seconds(parent)
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == parent:
            total += cpu_seconds(int(entry.name))
    return total


class Cluster:
    """PostgreSQL, Kamailio, two Asterisk nodes, a controller and the seats' SIPp."""

    def __init__(self, seats: int, talk_ms: int, answer_ms: int, max_wait: float) -> None:
        self.seats, self.talk_ms, self.answer_ms, self.max_wait = seats, talk_ms, answer_ms, max_wait
        self.folder = Path(tempfile.mkdtemp(prefix="hotline-bench-cluster-"))
        os.chmod(self.folder, 0o755)  # PostgreSQL and Kamailio run as their own users
        self.work = self.folder / "bench"
        self.work.mkdir()
        self.db = pg.Server(self.folder / "postgres", free_port(), secrets.token_hex(12))
        self.db_pid = 0
        self.proxy: kamailio.Proxy | None = None
        self.proxy_pid = 0
        self.nodes: list[tuple[str, Settings, int]] = []
        self.controller: subprocess.Popen[bytes] | None = None
        self.seat_phones: subprocess.Popen[bytes] | None = None
        self.store_url = ""
        self.steps = 0

    def start(self) -> None:
        from callcenter.prompts import build_prompts

        self.db_pid = self.db.start()
        self.store_url = self.db.create_database("hotline")
        kamailio_url = self.db.create_database("kamailio")
        roster = self.folder / "roster.toml"
        names = ", ".join(f'"seat{n}"' for n in range(1, self.seats + 1))
        roster.write_text(f'[[shift]]\nname = "bench"\nstart = "00:00"\nend = "24:00"\nseats = [{names}]\n')
        proxy_port = free_port()
        common = {"HOTLINE_HOTLINE_SEATS": str(self.seats), "HOTLINE_PATHS_ROSTER": str(roster),
                  "HOTLINE_CALLFLOW_MENU": "true", "HOTLINE_CALLFLOW_WRAPUP_SECONDS": "0",
                  "HOTLINE_PATHS_RECORDINGS_DIR": str(self.folder / "recordings")}
        envs = []
        for index in (1, 2):
            rtp = 20000 + index * 10000
            node = cluster_nodes.Node(f"node{index}", f"127.0.0.1{index}")
            envs.append(instance_env(self.folder / node.name, **common, HOTLINE_ASTERISK_QUALIFY_SECONDS="5",
                                     HOTLINE_ASTERISK_RTP_START=str(rtp), HOTLINE_ASTERISK_RTP_END=str(rtp + 9998))
                        | node.overrides(f"{PROXY_ADDRESS}:{proxy_port}", self.folder / node.name,
                                         self.folder / "recordings"))
        settings = [load_settings(env=env) for env in envs]
        cluster_nodes.share_credentials(settings)
        first = settings[0]
        creds = first.credentials()
        kamailio.prepare_database(kamailio_url, cluster_nodes.phone_accounts(first))
        self.proxy = kamailio.Proxy(PROXY_ADDRESS, proxy_port, kamailio_url,
                                    cluster_nodes.dispatcher_targets({s.asterisk.system_name: s for s in settings}),
                                    self.folder / "kamailio", children=4)
        self.proxy_pid = kamailio.start(self.proxy, HOME)
        pbx.provision(first, progress=lambda line: None)
        prompts = build_prompts(first, progress=lambda line: None)
        for index, node_settings in enumerate(settings, start=1):
            self.nodes.append((f"node{index}", node_settings,
                               pbx.start(node_settings, prompts_dir=prompts, progress=lambda line: None)))
        listed = " ".join(f"{name}={s.ari_url}" for name, s, _ in self.nodes)
        env = os.environ | envs[0] | {"HOTLINE_ASTERISK_NODES": listed, "HOTLINE_STORE_URL": self.store_url}
        out = self.work / "controller.out"
        with open(out, "wb") as log:
            self.controller = subprocess.Popen([sys.executable, "-m", "callcenter.cli", "controller"], env=env,
                                               cwd=HOME, stdin=subprocess.DEVNULL, stdout=log,
                                               stderr=subprocess.STDOUT, start_new_session=True)
        self._wait(lambda: "controller connected" in out.read_text(errors="replace"), 60, "the controller")
        self._start_seats(creds.seat_passwords)

    def _start_seats(self, passwords: Mapping[str, str]) -> None:
        users = self.work / "seats.csv"
        users.write_text("SEQUENTIAL\n" + "".join(
            f"seat{i};[authentication username=seat{i} password={passwords[f'seat{i}']}]\n"
            for i in range(1, self.seats + 1)))
        assert self.proxy is not None
        argv = ["sipp", f"{PROXY_ADDRESS}:{self.proxy.port}", "-sf", str(BENCH_SIPP / "seats_register.xml"),
                "-oocsf", str(BENCH_SIPP / "seat_answer.xml"), "-inf", str(users), "-m", str(self.seats),
                "-l", str(self.seats), "-r", str(min(self.seats, 50)), "-rp", "1000", "-i", LOOPBACK,
                "-p", str(free_port((socket.SOCK_DGRAM,))), "-mp", str(free_media_port()),
                "-set", "answer_after", str(self.answer_ms), "-set", "talk", str(self.talk_ms), "-nostdin", "-aa"]
        with open(self.work / "seats.out", "wb") as log:
            self.seat_phones = subprocess.Popen(argv, cwd=self.work, stdin=subprocess.DEVNULL, stdout=log,
                                                stderr=subprocess.STDOUT, start_new_session=True)
        # Registered at Kamailio, then seen online by the nodes (their qualify through it).
        self._wait(lambda: ClusterBenchStore(self.store_url).registered_seats() >= self.seats,
                   60, f"{self.seats} seats online")

    def _pg_counters(self) -> tuple[int, int]:
        return ClusterBenchStore(self.store_url).commits_and_row_writes()

    @staticmethod
    def _wait(check: object, timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if check():  # type: ignore[operator]
                    return
            except (OSError, psycopg.Error):
                pass
            time.sleep(0.3)
        raise RuntimeError(f"{what}: not ready within {timeout:.0f} s")

    def _cpu(self) -> dict[str, float]:
        parts = {"Kamailio": _group_cpu(self.proxy_pid), "controller": cpu_seconds(
            self.controller.pid if self.controller else None), "PostgreSQL": _children_cpu(self.db_pid),
            "SIPp seats": cpu_seconds(self.seat_phones.pid if self.seat_phones else None)}
        for name, _, pid in self.nodes:
            parts[f"Asterisk {name}"] = cpu_seconds(pid)
        return parts

    def run_step(self, rate: float, hold: float) -> Result:
        assert self.proxy is not None
        self.steps += 1
        result = Result("cluster", rate)
        prefix = f"138{self.steps:03d}"
        total = max(1, round(rate * hold))
        folder = self.work / f"step-{rate:g}-{self.steps}"
        folder.mkdir()
        give_up_ms = int(self.max_wait * 1000 + self.answer_ms + self.talk_ms + 2000)
        budget = total / rate + give_up_ms / 1000 + 30
        per, period = (int(rate), 1000) if float(rate).is_integer() else (round(rate * 10), 10000)
        argv = ["sipp", f"{PROXY_ADDRESS}:{self.proxy.port}", "-sf", str(BENCH_SIPP / "caller.xml"), "-s", "12345",
                "-r", str(per), "-rp", str(period), "-m", str(total), "-l", str(total), "-i", LOOPBACK,
                "-p", str(free_port((socket.SOCK_DGRAM,))), "-mp", str(free_media_port()),
                "-key", "dtmf_pcap", str(DTMF_0), "-set", "prefix", prefix, "-recv_timeout", str(give_up_ms),
                "-timeout", f"{int(budget)}s", "-timeout_error", "-nostdin", "-aa", "-trace_stat",
                "-stf", str(folder / "stat.csv"), "-fd", "1", "-trace_rtt", "-rtt_freq", "1"]
        cpu_before, pg_before = self._cpu(), self._pg_counters()
        with open(folder / "sipp.out", "wb") as log:
            caller = subprocess.Popen(argv, cwd=folder, stdin=subprocess.DEVNULL, stdout=log,
                                      stderr=subprocess.STDOUT, start_new_session=True)
        code, caller_cpu = wait_with_rusage(caller, budget + 15)
        stats = sipp_stats(folder / "stat.csv")
        result.calls = stat_int(stats, "TotalCallCreated") or total
        sipp_failed = stat_int(stats, "FailedCall(C)") or (0 if code == 0 else 1)
        # The rows: every call done, then counted by outcome and node.
        store = ClusterBenchStore(self.store_url)
        self._wait(lambda: store.calls_done(prefix) >= result.calls, 90, "the step's rows")
        rows = store.nodes_and_outcomes(prefix)
        for node, _ in rows:
            result.per_node[str(node)] = result.per_node.get(str(node), 0) + 1
        not_answered = sum(1 for _, outcome in rows if outcome != "answered")
        result.failed = max(sipp_failed, not_answered + max(0, result.calls - len(rows)))
        invite = rtt_values(folder)
        result.invite_p50, result.invite_p99 = percentile(invite, 50), percentile(invite, 99)
        time.sleep(1.0)  # the controller's after-call work (recordings measured) lands
        cpu_after, pg_after = self._cpu(), self._pg_counters()
        calls = max(1, result.calls)
        result.cpu_ms = {part: (cpu_after[part] - cpu_before[part]) * 1000 / calls for part in cpu_after}
        result.cpu_ms["SIPp callers"] = caller_cpu * 1000 / calls
        result.commits = (pg_after[0] - pg_before[0]) / calls
        result.row_writes = (pg_after[1] - pg_before[1]) / calls
        return result

    def stop(self) -> None:
        stop_process(self.seat_phones, grace=5.0)
        stop_process(self.controller, grace=15.0)
        for _, settings, _ in self.nodes:
            pbx.stop(settings, progress=lambda line: None)
        if self.proxy_pid:
            kamailio.stop(self.proxy_pid)
        if self.db_pid:
            pg.stop(self.db_pid)
        shutil.rmtree(self.folder, ignore_errors=True)


def _single(bench: Bench, rate: float) -> Result:
    step = bench.run_step(rate)
    result = Result("single node", rate, step.calls, step.failed, step.invite_p50, step.invite_p99,
                    {"hotline": step.calls})
    result.cpu_ms = {"controller": step.controller_cpu * 1000, "Asterisk": step.asterisk_cpu * 1000,
                     "SIPp": step.sipp_cpu * 1000}
    return result


def _line(result: Result) -> str:
    def ms(value: float | None) -> str:
        return "-" if value is None else f"{value:.0f}"

    nodes = " ".join(f"{node}:{count}" for node, count in sorted(result.per_node.items()))
    cpu = ", ".join(f"{part} {value:.1f}" for part, value in result.cpu_ms.items())
    pg_part = f"; PostgreSQL {result.commits:.1f} commits, {result.row_writes:.1f} row writes a call" \
        if result.setup == "cluster" else ""
    return (f"{result.setup:12} {result.rate:5g}/s  {result.calls:5d} calls  {result.failed:4d} failed  "
            f"INVITE->200 p50/p99 {ms(result.invite_p50)}/{ms(result.invite_p99)} ms  [{nodes}]\n"
            f"{'':14}CPU ms a call: {cpu}{pg_part}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seats", type=int, default=30)
    parser.add_argument("--rates", default="10,20,30", help="calls/s, comma separated, tried in order")
    parser.add_argument("--hold", type=float, default=20.0, help="seconds each rate is offered")
    parser.add_argument("--talk-ms", type=int, default=500)
    parser.add_argument("--answer-ms", type=int, default=100)
    parser.add_argument("--max-wait", type=float, default=30.0)
    args = parser.parse_args(argv)
    rates = [float(r) for r in args.rates.split(",") if r.strip()]
    say(f"cluster bench: {args.seats} seats, talk {args.talk_ms} ms, {args.hold:g} s a rate, rates "
        f"{', '.join(f'{r:g}' for r in rates)}; {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}")
    cluster = Cluster(args.seats, args.talk_ms, args.answer_ms, args.max_wait)
    single = Bench(Options(args.seats, args.hold, args.talk_ms, args.answer_ms, args.max_wait, 100000, 15.0,
                           False))
    results: list[Result] = []
    try:
        cluster.start()
        single.start()
        say("both set-ups ready")
        for rate in rates:  # alternating, so that machine noise hits both
            for result in (cluster.run_step(rate, args.hold), _single(single, rate)):
                results.append(result)
                say(_line(result))
    except KeyboardInterrupt:
        say("interrupted: stopping everything")
    finally:
        single.stop()
        cluster.stop()
    for setup in ("cluster", "single node"):
        passed = [r.rate for r in results if r.setup == setup and r.passed]
        say(f"{setup}: highest rate with zero failures among those tried: {max(passed):g} calls/s" if passed
            else f"{setup}: no rate tried passed")
    return 0 if results else 1


if __name__ == "__main__":
    sys.exit(main())

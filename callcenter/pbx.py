"""The Asterisk runtime: provision a Debian sid root with Asterisk 22, render its
configuration, start it in a chroot, wait for ARI, stop it, report its status.

Each running Asterisk lives in a private mount namespace (`unshare -m`): the mounts it
needs (/proc, its instance folder, the recordings folder, the prompts) exist only there
and vanish with the process, so nothing is left mounted on the host even after a crash,
and several instances (two test runs, a test run beside `hotline up`) share one
read-only root without seeing each other's files.
"""

from __future__ import annotations

import base64
import errno
import fcntl
import json
import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2

from callcenter.errors import ConfigError, PbxError
from callcenter.settings import Settings

Progress = Callable[[str], None]

# Bump when the provisioning recipe changes: older roots are then rebuilt.
RECIPE_VERSION = 1
PACKAGES = ("asterisk", "asterisk-core-sounds-en-wav", "asterisk-moh-opsound-wav")
# The index served here is a frozen copy whose Release file has expired.
APT_OPTIONS = ("-o", "Acquire::Check-Valid-Until=false", "-o", "Acquire::Retries=3")
STAMP = ".callcenter-provisioned.json"
# Mount points inside the root; the instance folder is bound onto INSTANCE_MOUNT.
INSTANCE_MOUNT = "/srv/hotline"


def _say(message: str) -> None:
    print(message, flush=True)


# --------------------------------------------------------------------------- privileges


CAP_SYS_CHROOT = 18
CAP_SYS_ADMIN = 21  # mount, unshare


def _has_capabilities(*caps: int) -> bool:
    try:
        with open("/proc/self/status") as status:
            line = next(line for line in status if line.startswith("CapEff:"))
    except (OSError, StopIteration):
        return os.geteuid() == 0
    effective = int(line.split()[1], 16)
    return all(effective >> cap & 1 for cap in caps)


def require_privileges(action: str) -> None:
    # Root is not enough in a container that drops capabilities: check the real ones.
    if not _has_capabilities(CAP_SYS_CHROOT, CAP_SYS_ADMIN):
        raise PbxError(
            f"{action} needs root with CAP_SYS_CHROOT and CAP_SYS_ADMIN (chroot, private mount namespace): "
            "run it as root, "
            "or set asterisk.mode = \"external\" to use an Asterisk that already runs"
        )
    for tool in ("unshare", "chroot", "mount"):
        if shutil.which(tool) is None:
            raise PbxError(f"{action} needs the '{tool}' command (Debian package util-linux / coreutils)")


# --------------------------------------------------------------------------- the root


@dataclass(frozen=True)
class RootInfo:
    path: Path
    asterisk_version: str
    moddir: str


def root_info(settings: Settings) -> RootInfo | None:
    """The provisioned root, or None when it is missing, half-built or from an old recipe."""
    root = settings.paths.asterisk_root
    try:
        stamp = json.loads((root / STAMP).read_text())
    except (OSError, ValueError):
        return None
    if stamp.get("recipe") != RECIPE_VERSION or not (root / "usr/sbin/asterisk").exists():
        return None
    return RootInfo(root, str(stamp["asterisk_version"]), str(stamp["moddir"]))


@contextmanager
def _lock(path: Path, waiting_for: str, progress: Progress = _say) -> Iterator[None]:
    """Hold an exclusive lock on `path` (waiting, with a line saying why, if it is held)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            progress(f"waiting for {waiting_for} to finish ({path})")
            fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def provision(settings: Settings, progress: Progress = _say) -> RootInfo:
    """Build the Asterisk root once; later runs only check it. Idempotent and resumable."""
    root = settings.paths.asterisk_root
    info = root_info(settings)
    if info is not None:
        progress(f"Asterisk root ready: {root} ({info.asterisk_version})")
        return info
    require_privileges("hotline pbx provision")
    if shutil.which("debootstrap") is None:
        raise PbxError("hotline pbx provision needs debootstrap: apt-get install debootstrap")
    with _lock(root.parent / (root.name + ".lock"), "another provisioning run", progress):
        info = root_info(settings)  # another run may have finished it while we waited
        if info is not None:
            progress(f"Asterisk root ready: {root} ({info.asterisk_version})")
            return info
        partial = root.with_name(root.name + ".partial")
        for leftover in (partial, root):
            if leftover.exists():
                progress(f"removing a half-built or outdated root left by an earlier run: {leftover}")
                _remove_tree(leftover)
        started = time.monotonic()
        progress(f"[1/4] debootstrap Debian sid (minbase) into {partial} (about a minute)")
        _run_progress(
            ["unshare", "-m", "--propagation", "private", "debootstrap", "--variant=minbase", "sid", str(partial)],
            progress,
        )
        _block_services(partial)
        progress(f"[2/4] apt-get install {' '.join(PACKAGES)}")
        inner = (
            f"mount -t proc proc {shlex.quote(str(partial / 'proc'))} && "
            f"chroot {shlex.quote(str(partial))} apt-get -q {' '.join(APT_OPTIONS)} update && "
            f"DEBIAN_FRONTEND=noninteractive chroot {shlex.quote(str(partial))} apt-get -q {' '.join(APT_OPTIONS)} "
            f"install -y --no-install-recommends {' '.join(PACKAGES)} && "
            f"chroot {shlex.quote(str(partial))} apt-get clean"
        )
        _run_progress(["unshare", "-m", "--propagation", "private", "sh", "-c", inner], progress)
        progress("[3/4] keeping the root's name lookups on this machine")
        _seal_root(partial)
        progress("[4/4] checking the Asterisk binary")
        version = subprocess.run(
            ["chroot", str(partial), "/usr/sbin/asterisk", "-V"], capture_output=True, text=True, check=False
        ).stdout.strip()
        if not version.startswith("Asterisk 22"):
            raise PbxError(f"the root at {partial} holds {version or 'no Asterisk'}, expected Asterisk 22")
        moddir = _module_dir(partial)
        for mount_point in (INSTANCE_MOUNT,):
            (partial / mount_point.lstrip("/")).mkdir(parents=True, exist_ok=True)
        stamp = {"recipe": RECIPE_VERSION, "asterisk_version": version, "moddir": moddir,
                 "built_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "packages": list(PACKAGES)}
        (partial / STAMP).write_text(json.dumps(stamp, indent=2))
        partial.rename(root)
        progress(f"Asterisk root built in {time.monotonic() - started:.0f} s: {root} ({version})")
        return RootInfo(root, version, moddir)


def _run_progress(argv: list[str], progress: Progress) -> None:
    """Run a long step, passing a line on every few seconds as progress; PbxError with
    its last lines on failure."""
    tail: list[str] = []
    shown_at = 0.0
    with subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace",
                          stdin=subprocess.DEVNULL) as proc:
        assert proc.stdout is not None
        for raw in proc.stdout:
            line = raw.rstrip()
            tail = ([*tail, line])[-15:]
            if time.monotonic() - shown_at >= 2.0:  # a line every two seconds is progress enough
                shown_at = time.monotonic()
                progress("    " + line[:120])
        code = proc.wait()
    if code != 0:
        step = argv[4] if argv[0] == "unshare" else argv[0]
        raise PbxError(f"{step} failed (exit {code}): " + " | ".join(tail[-5:]))


def _seal_root(root: Path) -> None:
    # Without these Asterisk looks up its own host name through DNS for every media
    # channel: slow, and traffic off the machine. Files only, loopback resolver.
    (root / "etc/hosts").write_text(f"127.0.0.1 localhost {socket.gethostname()}\n::1 localhost ip6-localhost\n")
    resolv = root / "etc/resolv.conf"
    if resolv.is_symlink():
        resolv.unlink()
    resolv.write_text("nameserver 127.0.0.1\noptions timeout:1 attempts:1\n")
    nsswitch = root / "etc/nsswitch.conf"
    lines = nsswitch.read_text().splitlines() if nsswitch.exists() else []
    lines = [line for line in lines if not line.startswith("hosts:")] + ["hosts: files"]
    nsswitch.write_text("\n".join(lines) + "\n")


def _block_services(root: Path) -> None:
    # No package may start a service inside the root: we start Asterisk ourselves.
    policy = root / "usr/sbin/policy-rc.d"
    policy.write_text("#!/bin/sh\nexit 101\n")
    policy.chmod(0o755)


def _module_dir(root: Path) -> str:
    for candidate in [*sorted(root.glob("usr/lib/*/asterisk/modules")), root / "usr/lib/asterisk/modules"]:
        if (candidate / "chan_pjsip.so").exists():
            return "/" + str(candidate.relative_to(root))
    raise PbxError(f"no Asterisk modules (chan_pjsip.so) found under {root}/usr/lib")


def _remove_tree(path: Path) -> None:
    # A root built by hand outside a namespace may still have /proc or /dev mounted in it.
    for mount_point in sorted(_mounts_under(path), reverse=True):
        subprocess.run(["umount", "-l", mount_point], check=False)
    shutil.rmtree(path)


def _mounts_under(path: Path) -> list[str]:
    prefix = str(path.resolve()) + "/"
    with open("/proc/self/mounts") as mounts:
        points = [line.split()[1].replace("\\040", " ") for line in mounts]
    return [p for p in points if p.startswith(prefix) or p + "/" == prefix]


# --------------------------------------------------------------------------- an instance


@dataclass(frozen=True)
class Instance:
    """The files of one embedded Asterisk: config, run, logs, spool and its pid."""

    base: Path

    @classmethod
    def of(cls, settings: Settings) -> Instance:
        return cls(settings.paths.state_dir / "asterisk")

    @property
    def etc(self) -> Path:
        return self.base / "etc"

    @property
    def pid_file(self) -> Path:
        return self.base / "asterisk.pid"

    @property
    def start_lock(self) -> Path:
        return self.base / "start.lock"

    @property
    def output_log(self) -> Path:
        return self.base / "log" / "asterisk.out"

    @property
    def recordings_mount(self) -> Path:
        return self.base / "recordings"

    @property
    def sounds_mount(self) -> Path:
        return self.base / "sounds"

    def running_pid(self) -> int | None:
        _reap_children()
        try:
            pid = int(self.pid_file.read_text().strip())
        except (OSError, ValueError):
            return None
        return pid if _is_asterisk(pid) else None


# Asterisks started by this process, kept so they are reaped when they exit.
_CHILDREN: dict[int, subprocess.Popen[bytes]] = {}


def _reap_children() -> None:
    """Reap our Asterisks that have exited, also those another process stopped (`hotline
    pbx stop` beside a running `hotline up`): none is left a zombie."""
    for pid, child in list(_CHILDREN.items()):
        if child.poll() is not None:
            del _CHILDREN[pid]


def _is_asterisk(pid: int) -> bool:
    child = _CHILDREN.get(pid)
    if child is not None:
        # Our own child: poll() is the truth, and reaps it once it exits (a look at /proc
        # alone would see a zombie as gone and leave it unreaped).
        if child.poll() is None:
            return True
        del _CHILDREN[pid]
        return False
    try:
        with open(f"/proc/{pid}/stat") as stat:
            state = stat.read().rsplit(")", 1)[1].split()[0]
        with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
            argv = cmdline.read().split(b"\0")
    except OSError:
        return False
    if state in ("Z", "X"):
        return False
    # A stale pid file may name a pid reused by an unrelated process: only Asterisk itself,
    # or our exec chain (unshare -> sh -> chroot) on its way to it, counts.
    if argv[0].endswith(b"/asterisk") or argv[0] == b"asterisk":
        return True
    return argv[0].endswith((b"unshare", b"chroot", b"sh")) and any(b"/usr/sbin/asterisk" in a for a in argv)


def render_config(settings: Settings, instance: Instance, moddir: str) -> list[Path]:
    """Render config/asterisk/*.j2 and dialplan/*.j2 into the instance's etc folder."""
    folders = [settings.home / "config" / "asterisk", settings.home / "dialplan"]
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader([str(f) for f in folders]),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,
    )
    creds = settings.credentials()
    sip_bind = settings.asterisk.sip_bind
    context: dict[str, Any] = {
        "s": settings,
        "creds": creds,
        "inst": INSTANCE_MOUNT,
        "moddir": moddir,
        "sip_bind_url": f"[{sip_bind}]" if ":" in sip_bind else sip_bind,
    }
    instance.etc.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for folder in folders:
        for template_path in sorted(folder.glob("*.j2")):
            try:
                text = env.get_template(template_path.name).render(context)
            except jinja2.TemplateSyntaxError as exc:
                raise ConfigError(f"{template_path}: line {exc.lineno}: {exc.message}") from None
            except jinja2.UndefinedError as exc:
                raise ConfigError(f"{template_path}: {exc.message}") from None
            except jinja2.TemplateError as exc:
                raise ConfigError(f"{template_path}: {exc}") from None
            target = instance.etc / template_path.name[: -len(".j2")]
            target.write_text(text, encoding="utf-8")
            written.append(target)
    if not written:
        raise ConfigError(f"no Asterisk templates (*.j2) found in {folders[0]}")
    return written


def check_ports_free(settings: Settings) -> None:
    a = settings.asterisk
    wanted = [
        (a.sip_bind, a.sip_port, socket.SOCK_DGRAM, "asterisk.sip_port (SIP/UDP)"),
        (a.sip_bind, a.sip_port, socket.SOCK_STREAM, "asterisk.sip_port (SIP/TCP)"),
        (a.http_bind, a.http_port, socket.SOCK_STREAM, "asterisk.http_port (ARI/HTTP)"),
        (a.ami_bind, a.ami_port, socket.SOCK_STREAM, "asterisk.ami_port (AMI)"),
    ]
    for host, port, kind, setting in wanted:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        with socket.socket(family, kind) as probe:
            if kind == socket.SOCK_STREAM:
                probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind((host, port))
            except OSError as exc:
                if exc.errno == errno.EADDRINUSE:
                    raise PbxError(f"port {port} on {host} is already in use (setting {setting})") from None
                raise PbxError(f"cannot bind {host}:{port} ({exc.strerror}; setting {setting})") from None


def _asterisk_ids(root: Path) -> tuple[int, int]:
    for line in (root / "etc/passwd").read_text().splitlines():
        fields = line.split(":")
        if fields[0] == "asterisk":
            return int(fields[2]), int(fields[3])
    raise PbxError(f"{root}/etc/passwd has no asterisk user: run `hotline pbx provision` again")


def _prepare_instance(settings: Settings, instance: Instance, root: Path, prompts_dir: Path | None) -> None:
    uid, gid = _asterisk_ids(root)
    instance.base.mkdir(parents=True, exist_ok=True)
    for name in ("run", "log", "spool", "lib", "cache", "recordings", "sounds"):
        folder = instance.base / name
        folder.mkdir(exist_ok=True)
        os.chown(folder, uid, gid)
    # Credentials live in the rendered config: readable by the asterisk group only.
    os.chown(instance.etc, 0, gid)
    instance.etc.chmod(0o750)
    for conf in instance.etc.iterdir():
        os.chown(conf, 0, gid)
        conf.chmod(0o640)
    recordings = settings.paths.recordings_dir
    recordings.mkdir(parents=True, exist_ok=True)
    os.chown(recordings, uid, gid)
    recordings.chmod(0o750)  # citizens' voices: Asterisk writes, its group reads, nobody else
    if prompts_dir is not None:
        prompts_dir.mkdir(parents=True, exist_ok=True)


def start(settings: Settings, prompts_dir: Path | None = None, progress: Progress = _say) -> int:
    """Start the embedded Asterisk and wait until ARI answers; return its pid."""
    if not settings.embedded:
        raise PbxError(f"asterisk.mode is external: the engine starts no Asterisk and uses {settings.ari_url}")
    instance = Instance.of(settings)
    # One start at a time: `hotline up`'s keeper and an operator's `hotline pbx start`
    # may both find Asterisk gone; the second waits, then finds it running (rather than
    # a second Asterisk failing on the ports, or winning them).
    with _lock(instance.start_lock, "another start of Asterisk", progress):
        pid = instance.running_pid()
        if pid is not None:
            progress(f"Asterisk is already running (pid {pid})")
            return pid
        return _start_unlocked(settings, instance, prompts_dir, progress)


def _start_unlocked(settings: Settings, instance: Instance, prompts_dir: Path | None, progress: Progress) -> int:
    require_privileges("hotline pbx start")
    info = root_info(settings)
    if info is None:
        raise PbxError(f"no Asterisk root at {settings.paths.asterisk_root}: run `hotline pbx provision` first")
    check_ports_free(settings)
    render_config(settings, instance, info.moddir)
    _prepare_instance(settings, instance, info.path, prompts_dir)
    root = shlex.quote(str(info.path))
    mounts = [
        f"mount -t proc proc {root}/proc",
        f"mount --bind {shlex.quote(str(instance.base))} {root}{INSTANCE_MOUNT}",
        f"mount --bind {shlex.quote(str(settings.paths.recordings_dir))} {root}{INSTANCE_MOUNT}/recordings",
    ]
    if prompts_dir is not None:
        mounts.append(f"mount --bind -o ro {shlex.quote(str(prompts_dir))} {root}{INSTANCE_MOUNT}/sounds")
    # umask 027: what Asterisk writes (recordings 0640, logs) is closed to other users.
    # nice: Asterisk's threads (media, recording) before the controller's when the cores are
    # full. Not root: nice says it cannot and Asterisk starts at the usual priority.
    script = " && ".join(["umask 027", *mounts]) + (
        f" && exec nice -n {int(settings.asterisk.nice)} chroot {root} /usr/sbin/asterisk -f -n"
        f" -C {INSTANCE_MOUNT}/etc/asterisk.conf -U asterisk -G asterisk"
    )
    instance.output_log.parent.mkdir(parents=True, exist_ok=True)
    with open(instance.output_log, "ab") as log:
        # unshare, sh, nice and chroot all exec: the pid we get is Asterisk's own.
        proc = subprocess.Popen(
            ["unshare", "-m", "--propagation", "private", "sh", "-c", script],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
    _CHILDREN[proc.pid] = proc
    instance.pid_file.write_text(f"{proc.pid}\n")
    progress(f"Asterisk starting (pid {proc.pid}), waiting for ARI at {settings.ari_url}")
    deadline = time.monotonic() + settings.asterisk.start_timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            instance.pid_file.unlink(missing_ok=True)
            raise PbxError(f"Asterisk exited during start (code {proc.returncode}): {_tail(instance.output_log)}")
        if ari_info(settings, timeout=1.0) is not None:
            progress(f"Asterisk is up: SIP {settings.asterisk.sip_bind}:{settings.asterisk.sip_port}, "
                     f"ARI {settings.ari_url}, AMI {settings.ami_host}:{settings.asterisk.ami_port}")
            return proc.pid
        time.sleep(0.2)
    _terminate(proc.pid)
    instance.pid_file.unlink(missing_ok=True)
    raise PbxError(f"ARI did not answer within {settings.asterisk.start_timeout:.0f} s: {_tail(instance.output_log)}")


def _tail(path: Path, lines: int = 3) -> str:
    try:
        text = path.read_text(errors="replace").strip().splitlines()
    except OSError:
        return "(no output)"
    return " | ".join(text[-lines:]) or "(no output)"


def stop(settings: Settings, progress: Progress = _say, timeout: float = 15.0) -> bool:
    """Stop the embedded Asterisk; return False when it was not running."""
    if not settings.embedded:
        raise PbxError("asterisk.mode is external: the engine does not stop that Asterisk")
    instance = Instance.of(settings)
    pid = instance.running_pid()
    if pid is None:
        instance.pid_file.unlink(missing_ok=True)
        progress("Asterisk is not running")
        return False
    _terminate(pid, timeout)
    instance.pid_file.unlink(missing_ok=True)
    progress(f"Asterisk stopped (pid {pid}); its mounts went with its namespace")
    return True


def _terminate(pid: int, timeout: float = 15.0) -> None:
    # SIGTERM is Asterisk's "core stop now": channels hung up, modules unloaded.
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _is_asterisk(pid):
            return
        time.sleep(0.1)
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        return
    while _is_asterisk(pid):
        time.sleep(0.05)


# --------------------------------------------------------------------------- status


def _auth_header(settings: Settings) -> str:
    creds = settings.credentials()
    token = base64.b64encode(f"{creds.ari_user}:{creds.ari_password}".encode()).decode()
    return f"Basic {token}"


def ari_info(settings: Settings, timeout: float = 2.0) -> dict[str, Any] | None:
    """GET /asterisk/info with the engine's credentials; None when ARI does not answer."""
    request = urllib.request.Request(settings.ari_url + "/asterisk/info",
                                     headers={"Authorization": _auth_header(settings)})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            data: dict[str, Any] = json.loads(response.read())
            return data
    except (urllib.error.URLError, OSError, ValueError):
        return None


def status_lines(settings: Settings) -> list[str]:
    import asyncio

    from callcenter.ami import ami_session

    lines: list[str] = []
    a = settings.asterisk
    if settings.embedded:
        pid = Instance.of(settings).running_pid()
        info = root_info(settings)
        lines.append(f"mode:      embedded, root {settings.paths.asterisk_root} "
                     f"({'provisioned' if info else 'not provisioned'})")
        lines.append(f"process:   {'running, pid ' + str(pid) if pid else 'not running'}")
    else:
        lines.append(f"mode:      external ({settings.ari_url})")
    ari = ari_info(settings)
    if ari is not None:
        version = ari.get("system", {}).get("version", "?")
        startup = ari.get("status", {}).get("startup_time", "")
        lines.append(f"version:   Asterisk {version}")
        lines.append(f"uptime:    {_uptime(startup)} (since {startup})")
    lines.append(f"SIP:       udp+tcp {a.sip_bind}:{a.sip_port}, RTP {a.rtp_start}-{a.rtp_end}")
    lines.append(f"ARI:       {settings.ari_url} ({'answers' if ari is not None else 'does not answer'})")

    async def ami_ok() -> bool:
        try:
            async with ami_session(settings, connect_timeout=2.0) as ami:
                await ami.action("Ping")
            return True
        except PbxError:
            return False

    ami_answers = asyncio.run(ami_ok())
    lines.append(f"AMI:       {settings.ami_host}:{a.ami_port} ({'answers' if ami_answers else 'does not answer'})")
    return lines


def _uptime(startup_iso: str) -> str:
    from datetime import datetime

    try:
        started = datetime.fromisoformat(startup_iso.replace("+0000", "+00:00"))
    except ValueError:
        return "?"
    seconds = int((datetime.now(started.tzinfo) - started).total_seconds())
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


def cli_command(settings: Settings, command: str) -> str:
    import asyncio

    from callcenter.ami import ami_session

    async def run() -> str:
        async with ami_session(settings) as ami:
            return await ami.command(command)

    return asyncio.run(run())


if __name__ == "__main__":  # pragma: no cover
    sys.exit("use the `hotline pbx` command")

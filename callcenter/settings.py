"""The engine's settings: one TOML file with every default, overridable by environment.

`HOTLINE_<SECTION>_<KEY>` overrides a key (HOTLINE_ASTERISK_SIP_PORT=5070);
`HOTLINE_CONFIG` names another settings file; `HOTLINE_HOME` the project folder that
relative paths and the templates are found in. Passwords are generated on first use
into `<state_dir>/credentials.toml` with mode 0600, never written in the repository.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import os
import re
import secrets
import tomllib
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from callcenter.errors import ConfigError

SEAT_NAMES = tuple(f"seat{n}" for n in range(1, 7))  # the default six
# The PJSIP endpoint that calls out of the hotline go through (callbacks, three-way calls);
# it exists when a trunk address is set ([trunk] address, or callbacks.trunk).
TRUNK_ENDPOINT = "callback-trunk"


def seat_names(count: int) -> tuple[str, ...]:
    return tuple(f"seat{n}" for n in range(1, count + 1))


def project_home() -> Path:
    override = os.environ.get("HOTLINE_HOME")
    return Path(override).resolve() if override else Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class HotlineSection:
    number: str
    timezone: str
    seats: int


@dataclass(frozen=True)
class PathsSection:
    state_dir: Path
    recordings_dir: Path
    database: Path
    asterisk_root: Path
    roster: Path


@dataclass(frozen=True)
class StoreSection:
    """Where the store lives: empty, the SQLite file at paths.database (the embedded
    default); `postgresql://user:password@host:port/database`, a PostgreSQL database."""

    url: str = dataclasses.field(default="", repr=False)  # may hold a password: never shown

    @property
    def postgresql(self) -> bool:
        return bool(self.url)


@dataclass(frozen=True)
class CallflowSection:
    menu: bool
    max_waiting: int
    menu_timeout: float
    position_interval: float
    ring_timeout: float
    wrapup_seconds: float


@dataclass(frozen=True)
class NuisanceSection:
    short_call_seconds: float
    repeat_calls: int
    repeat_window_minutes: float
    marks_to_flag: int
    marks_window_hours: float
    flag_hours: float
    hard_limit_calls: int
    hard_limit_window_minutes: float


@dataclass(frozen=True)
class AsteriskSection:
    mode: str
    app: str
    sip_bind: str
    sip_port: int
    rtp_start: int
    rtp_end: int
    http_bind: str
    http_port: int
    ami_bind: str
    ami_port: int
    # Overload and dead lines: Asterisk's own ceiling of channels, the seconds without RTP
    # after which a call is hung up, and how often seat phones are asked whether they live.
    max_calls: int
    rtp_timeout: int
    qualify_seconds: int
    start_timeout: float
    ari_url: str
    ari_user: str
    ari_password: str
    ami_host: str
    ami_user: str
    ami_password: str
    # Asterisk's scheduling priority (nice, -20..19): below zero it runs before the
    # controller and everything else when the cores are full, so voice frames and the
    # recordings keep their timing while signalling waits a few milliseconds.
    nice: int = -5
    # The prefix of Asterisk's channel ids; in a cluster, the node's name (see `nodes`).
    system_name: str = "hotline"
    # A cluster's nodes, "name=ARI URL" separated by spaces ("": the one Asterisk).
    nodes: str = ""
    # In a cluster, this node's SIP proxy ("address:port"): phones register there, and
    # the node reaches them through it ("": phones register at this Asterisk).
    proxy: str = ""


@dataclass(frozen=True)
class CallbacksSection:
    trunk: str
    caller_id: str
    ring_seconds: float
    max_attempts: int
    retry_minutes: float
    quiet_start: str
    quiet_end: str
    answer_timeout: float
    poll_seconds: float
    # Toll-fraud guards: the numbers that may be dialled (regular expressions, space
    # separated, each matching a whole national number), callbacks a day, at once.
    number_plan: str
    max_per_day: int
    max_concurrent: int


@dataclass(frozen=True)
class TrunkSection:
    address: str  # host or host:port of the SIP trunk or gateway; "": callbacks.trunk


@dataclass(frozen=True)
class ThreewaySection:
    ring_seconds: float  # how long a unit's phone rings before the operator is told nobody answered


@dataclass(frozen=True)
class ListenInSection:
    """Live supervision (监听/密语/强插): the supervisors' own SIP phones."""

    # Console supervisor accounts that have a phone, space separated: each is a PJSIP
    # endpoint of that name with a generated digest password (credentials.toml [supervisors]).
    phones: str
    answer_seconds: float  # how long the supervisor's phone rings before the supervision is given up


# The bit rates MPEG-2.5 layer III allows at 8 kHz (what LAME encodes a phone recording as).
MP3_KBPS = (8, 16, 24, 32, 40, 48, 56, 64)


@dataclass(frozen=True)
class RecordingsSection:
    retention_days: int  # a call's recording is deleted this many days after the call arrived
    # After the call, its WAV is compressed: "mp3" (see recordings/compress.py), or "off".
    compress: str = "mp3"
    # The MP3's bit rate, kbit/s: 8 (the default, 16 times smaller than the WAV) or more
    # (MPEG-2.5 at 8 kHz allows up to 64 in steps of 8).
    mp3_kbps: int = 8


@dataclass(frozen=True)
class WebSection:
    bind: str
    port: int
    # HTTPS: a certificate and its key (PEM files; `hotline web cert` makes a self-signed
    # pair). A console bound beyond loopback needs them, unless plain_http says so.
    tls_cert: str
    tls_key: str
    plain_http: bool


@dataclass(frozen=True)
class ChannelsSection:
    """Problems that come in writing (the mayor's mailbox, SMS, the city forum) and the
    response limits GB/T 33358 sets for them. Every key has a default: a settings file
    written before these channels existed still loads."""

    # The unit (config/units.toml code) that holds a written message's ticket until the
    # supervisor forwards it to the responsible unit.
    intake_unit: str = "hotline-office"
    # A person answers an SMS (and other media) within 3 minutes, the mailbox within 24
    # hours (GB/T 33358); a forum post is a public web message, held to the mailbox's limit.
    sms_response_minutes: float = 3.0
    mailbox_response_hours: float = 24.0
    forum_response_hours: float = 24.0
    # An automatic acknowledgement (the ticket number sent back at once) counts as the
    # response only if a person follows it within this many minutes.
    follow_up_minutes: float = 30.0
    # A message is "nearing its limit" on the desk once less than this share of the limit is left.
    nearing_share: float = 0.5


@dataclass(frozen=True)
class PublicSection:
    """The public site (the mayor's mailbox form, the status of a ticket by its query
    code, the published cases and their Atom feed): a server of its own, never the
    console's sessions or routes."""

    enabled: bool = True
    bind: str = "127.0.0.1"
    port: int = 8090
    # The site's address as citizens reach it (the Atom feed's links); empty: its own bind and port.
    base_url: str = ""
    # At most form_limit mailbox submissions per address in form_window_minutes; more are refused with 429.
    form_limit: int = 5
    form_window_minutes: float = 10.0


@dataclass(frozen=True)
class SmsSection:
    """The SMS platform (2112345): the gateway posts citizens' messages to the console's
    /gateway/sms, signed with a shared secret; replies go back through the gateway."""

    number: str = "2112345"
    # Seconds a signed message's timestamp may differ from this machine's clock.
    window_seconds: int = 300
    # A message from a number with a ticket opened by SMS in the last merge_hours joins that ticket.
    merge_hours: float = 24.0
    # Where replies to citizens are posted (the gateway's HTTP sender); empty: replies are
    # kept as queued and nothing is sent.
    gateway_url: str = ""
    # Send the ticket number back at once when a message becomes a ticket.
    auto_acknowledge: bool = True
    # Only from the environment (HOTLINE_SMS_SECRET): a settings file may not hold it.
    # Empty: the gateway endpoint refuses every message (503).
    secret: str = dataclasses.field(default="", repr=False)


@dataclass(frozen=True)
class MailSection:
    """Mail notices to the responsible units over SMTP (`callcenter.mail`)."""

    enabled: bool
    host: str
    port: int
    starttls: bool
    user: str
    sender: str
    console_url: str  # the link put in mails; empty: the console's own address
    deadline_warning_working_days: int  # 0: no 即将到期 mails
    # Only from the environment (HOTLINE_MAIL_PASSWORD): a settings file may not hold it.
    password: str = dataclasses.field(default="", repr=False)


@dataclass(frozen=True)
class Credentials:
    """Generated secrets: ARI and AMI users, the seats' and the supervisors' SIP passwords."""

    ari_user: str
    ari_password: str
    ami_user: str
    ami_password: str
    seat_passwords: Mapping[str, str]
    supervisor_passwords: Mapping[str, str] = dataclasses.field(default_factory=dict)

    def sip_password(self, endpoint: str) -> str:
        """The digest password of a seat's or a supervisor's phone (KeyError for neither)."""
        if endpoint in self.seat_passwords:
            return self.seat_passwords[endpoint]
        return self.supervisor_passwords[endpoint]


@dataclass(frozen=True)
class Settings:
    source: Path
    home: Path
    hotline: HotlineSection
    paths: PathsSection
    store: StoreSection
    callflow: CallflowSection
    nuisance: NuisanceSection
    asterisk: AsteriskSection
    web: WebSection
    callbacks: CallbacksSection
    mail: MailSection
    trunk: TrunkSection
    threeway: ThreewaySection
    recordings: RecordingsSection
    listen_in: ListenInSection
    channels: ChannelsSection
    public: PublicSection
    sms: SmsSection

    @property
    def trunk_address(self) -> str:
        """Where calls out of the hotline go: [trunk] address, else the older callbacks.trunk."""
        return self.trunk.address or self.callbacks.trunk

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.hotline.timezone)

    @property
    def seat_names(self) -> tuple[str, ...]:
        return seat_names(self.hotline.seats)

    @property
    def supervisor_phones(self) -> tuple[str, ...]:
        """The supervisor accounts with a phone of their own (PJSIP endpoints of those names)."""
        return tuple(self.listen_in.phones.split())

    @property
    def embedded(self) -> bool:
        return self.asterisk.mode == "embedded"

    @property
    def web_tls(self) -> tuple[Path, Path] | None:
        """The console's certificate and key files, when HTTPS is set; relative paths are
        from the project folder."""
        if not self.web.tls_cert:
            return None
        cert, key = (Path(p).expanduser() for p in (self.web.tls_cert, self.web.tls_key))
        return (cert if cert.is_absolute() else self.home / cert, key if key.is_absolute() else self.home / key)

    @property
    def credentials_file(self) -> Path:
        return self.paths.state_dir / "credentials.toml"

    @property
    def ari_url(self) -> str:
        if self.asterisk.ari_url:
            return self.asterisk.ari_url.rstrip("/")
        return f"http://{_url_host(self.asterisk.http_bind)}:{self.asterisk.http_port}/ari"

    @property
    def ari_nodes(self) -> dict[str, str]:
        """The Asterisk nodes the controller drives, name -> ARI URL, in the configured
        order (the first is where callbacks go out): `asterisk.nodes`, or this one Asterisk."""
        if not self.asterisk.nodes.strip():
            return {self.asterisk.system_name: self.ari_url}
        nodes: dict[str, str] = {}
        for entry in self.asterisk.nodes.split():
            name, _, url = entry.partition("=")
            if not _NODE_NAME.fullmatch(name) or not url.startswith(("http://", "https://")):
                raise ConfigError(f"{self.source}: asterisk.nodes: {entry!r} is not name=http://host:port/ari "
                                  "(the name letters, digits and _)")
            if name in nodes:
                raise ConfigError(f"{self.source}: asterisk.nodes names {name!r} twice")
            nodes[name] = url.rstrip("/")
        return nodes

    @property
    def ami_host(self) -> str:
        return self.asterisk.ami_host or _connect_host(self.asterisk.ami_bind)

    def credentials(self) -> Credentials:
        """The generated credentials, with external-Asterisk settings taking precedence."""
        generated = load_or_create_credentials(self.credentials_file, self.seat_names, self.supervisor_phones)
        a = self.asterisk
        return Credentials(
            ari_user=a.ari_user or generated.ari_user,
            ari_password=a.ari_password or generated.ari_password,
            ami_user=a.ami_user or generated.ami_user,
            ami_password=a.ami_password or generated.ami_password,
            seat_passwords=generated.seat_passwords,
            supervisor_passwords=generated.supervisor_passwords,
        )


def _connect_host(bind: str) -> str:
    # A control port bound to every address is still reached over loopback.
    return "127.0.0.1" if bind in ("0.0.0.0", "::", "") else bind


def _url_host(bind: str) -> str:
    host = _connect_host(bind)
    return f"[{host}]" if ":" in host else host


_SECTIONS: dict[str, type[typing.Any]] = {
    "hotline": HotlineSection,
    "paths": PathsSection,
    "store": StoreSection,
    "callflow": CallflowSection,
    "nuisance": NuisanceSection,
    "asterisk": AsteriskSection,
    "web": WebSection,
    "callbacks": CallbacksSection,
    "mail": MailSection,
    "trunk": TrunkSection,
    "threeway": ThreewaySection,
    "recordings": RecordingsSection,
    "listen_in": ListenInSection,
    "channels": ChannelsSection,
    "public": PublicSection,
    "sms": SmsSection,
}


def load_settings(
    path: Path | None = None,
    env: Mapping[str, str] | None = None,
) -> Settings:
    """Read the settings file, apply HOTLINE_* overrides, validate; ConfigError on any fault."""
    env = os.environ if env is None else env
    home = Path(env["HOTLINE_HOME"]).resolve() if env.get("HOTLINE_HOME") else project_home()
    source = Path(env.get("HOTLINE_CONFIG") or path or home / "config" / "hotline.toml")
    try:
        raw = tomllib.loads(source.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{source}: settings file not found") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{source}: not valid TOML: {exc}") from None

    unknown = set(raw) - set(_SECTIONS)
    if unknown:
        raise ConfigError(f"{source}: unknown section [{sorted(unknown)[0]}]")
    mail_table = raw.get("mail", {})
    if isinstance(mail_table, dict) and "password" in mail_table:
        raise ConfigError(f"{source}: mail.password must not be written in a settings file:"
                          " set HOTLINE_MAIL_PASSWORD in the environment")
    sms_table = raw.get("sms", {})
    if isinstance(sms_table, dict) and "secret" in sms_table:
        raise ConfigError(f"{source}: sms.secret must not be written in a settings file:"
                          " set HOTLINE_SMS_SECRET in the environment")
    sections: dict[str, typing.Any] = {}
    for name, cls in _SECTIONS.items():
        sections[name] = _build_section(source, home, name, cls, raw.get(name, {}), env)
    settings = Settings(source=source, home=home, **sections)
    _validate(settings)
    return settings


def _build_section(
    source: Path,
    home: Path,
    name: str,
    cls: type[typing.Any],
    table: Mapping[str, object],
    env: Mapping[str, str],
) -> object:
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    known = set(fields)
    for key in table:
        if key not in known:
            raise ConfigError(f"{source}: unknown setting {name}.{key}")
    values: dict[str, object] = {}
    for key in sorted(known):
        env_name = f"HOTLINE_{name.upper()}_{key.upper()}"
        where = f"{env_name} (environment)" if env_name in env else f"{source}: {name}.{key}"
        value: object = env[env_name] if env_name in env else table.get(key)
        if value is None and fields[key].default is not dataclasses.MISSING:
            value = fields[key].default  # a secret, which has no place in the file
        if value is None:
            raise ConfigError(f"{source}: missing setting {name}.{key}")
        values[key] = _cast(where, hints[key], value, home)
    return cls(**values)


def _cast(where: str, kind: object, value: object, home: Path) -> object:
    if kind is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("1", "true", "yes", "on", "0", "false", "no", "off"):
            return value.lower() in ("1", "true", "yes", "on")
        raise ConfigError(f"{where} must be true or false, got {value!r}")
    if kind is int:
        if isinstance(value, bool):
            raise ConfigError(f"{where} must be a whole number, got {value!r}")
        try:
            return int(str(value).strip())
        except ValueError:
            raise ConfigError(f"{where} must be a whole number, got {value!r}") from None
    if kind is float:
        try:
            return float(str(value).strip())
        except ValueError:
            raise ConfigError(f"{where} must be a number, got {value!r}") from None
    if kind is Path:
        if not isinstance(value, str) or not value.strip():
            raise ConfigError(f"{where} must be a path, got {value!r}")
        path = Path(value).expanduser()
        return path if path.is_absolute() else (home / path)
    if not isinstance(value, str):
        raise ConfigError(f"{where} must be text, got {value!r}")
    return value


# A node's name: the part of its channel ids before the first '-'.
_NODE_NAME = re.compile(r"[A-Za-z0-9_]{1,32}")


def _validate(s: Settings) -> None:
    src = s.source
    a = s.asterisk
    if a.mode not in ("embedded", "external"):
        raise ConfigError(f"{src}: asterisk.mode must be 'embedded' or 'external', got {a.mode!r}")
    for key in ("sip_port", "http_port", "ami_port", "rtp_start", "rtp_end"):
        port = getattr(a, key)
        if not 1 <= port <= 65535:
            raise ConfigError(f"{src}: asterisk.{key} must be a port 1-65535, got {port}")
    if a.rtp_start >= a.rtp_end:
        raise ConfigError(f"{src}: asterisk.rtp_start ({a.rtp_start}) must be below rtp_end ({a.rtp_end})")
    for key in ("sip_bind", "http_bind", "ami_bind"):
        try:
            ipaddress.ip_address(getattr(a, key))
        except ValueError:
            raise ConfigError(f"{src}: asterisk.{key} must be an IP address, got {getattr(a, key)!r}") from None
    cb = s.callbacks
    for key in ("ring_seconds", "retry_minutes", "answer_timeout", "poll_seconds"):
        if getattr(cb, key) <= 0:
            raise ConfigError(f"{src}: callbacks.{key} must be positive, got {getattr(cb, key)}")
    if cb.max_attempts < 1:
        raise ConfigError(f"{src}: callbacks.max_attempts must be 1 or more, got {cb.max_attempts}")
    for key in ("max_per_day", "max_concurrent"):
        if getattr(cb, key) < 1:
            raise ConfigError(f"{src}: callbacks.{key} must be 1 or more, got {getattr(cb, key)}")
    for pattern in cb.number_plan.split():
        try:
            re.compile(pattern)
        except re.error as exc:
            raise ConfigError(f"{src}: callbacks.number_plan: {pattern!r} is not a valid pattern ({exc})") from None
    if not cb.number_plan.split():
        raise ConfigError(f"{src}: callbacks.number_plan must name at least one pattern of numbers to dial")
    for key, value in (("callbacks.trunk", cb.trunk), ("trunk.address", s.trunk.address)):
        if value and not _HOST_PORT.fullmatch(value):
            raise ConfigError(f"{src}: {key} must be host or host:port, got {value!r}")
    if s.recordings.compress not in ("mp3", "off"):
        raise ConfigError(f"{src}: recordings.compress must be \"mp3\" or \"off\", got {s.recordings.compress!r}")
    if s.recordings.mp3_kbps not in MP3_KBPS:
        raise ConfigError(f"{src}: recordings.mp3_kbps must be one of {', '.join(map(str, MP3_KBPS))},"
                          f" got {s.recordings.mp3_kbps!r}")
    if s.recordings.retention_days < 1:
        raise ConfigError(f"{src}: recordings.retention_days must be a whole number of days, 1 or more,"
                          f" got {s.recordings.retention_days}")
    if s.threeway.ring_seconds <= 0:
        raise ConfigError(f"{src}: threeway.ring_seconds must be positive, got {s.threeway.ring_seconds}")
    _validate_listen_in(s)
    _validate_channels(s)
    _validate_store(src, s.store)
    for key in ("quiet_start", "quiet_end"):
        value = getattr(cb, key)
        if len(value) != 5 or value[2] != ":" or not (value[:2] + value[3:]).isdigit() or int(value[:2]) > 23 \
                or int(value[3:]) > 59:
            raise ConfigError(f"{src}: callbacks.{key} must be a time like \"21:00\", got {value!r}")
    if not 1 <= s.web.port <= 65535:
        raise ConfigError(f"{src}: web.port must be a port 1-65535, got {s.web.port}")
    try:
        ipaddress.ip_address(s.web.bind)
    except ValueError:
        raise ConfigError(f"{src}: web.bind must be an IP address, got {s.web.bind!r}") from None
    if bool(s.web.tls_cert) != bool(s.web.tls_key):
        raise ConfigError(f"{src}: web.tls_cert and web.tls_key go together (give both, or neither)")
    if not ipaddress.ip_address(s.web.bind).is_loopback and not s.web.tls_cert and not s.web.plain_http:
        raise ConfigError(
            f"{src}: web.bind {s.web.bind} is reachable from other machines, but the console has no HTTPS: "
            "give web.tls_cert and web.tls_key (`hotline web cert` makes a self-signed pair), "
            "or set web.plain_http = true if plain HTTP is really meant (passwords would cross the network)")
    if not re.fullmatch(r"[A-Za-z0-9_-]{1,64}", a.app):
        raise ConfigError(f"{src}: asterisk.app must be letters, digits, - or _, got {a.app!r}")
    if a.start_timeout <= 0:
        raise ConfigError(f"{src}: asterisk.start_timeout must be positive, got {a.start_timeout}")
    for key in ("menu_timeout", "position_interval", "ring_timeout"):
        if getattr(s.callflow, key) <= 0:
            raise ConfigError(f"{src}: callflow.{key} must be positive, got {getattr(s.callflow, key)}")
    if a.max_calls < 1:
        raise ConfigError(f"{src}: asterisk.max_calls must be 1 or more, got {a.max_calls}")
    if not 0 <= a.rtp_timeout <= 3600:
        raise ConfigError(f"{src}: asterisk.rtp_timeout must be 0 (off) to 3600 seconds, got {a.rtp_timeout}")
    if not -20 <= a.nice <= 19:
        raise ConfigError(f"{src}: asterisk.nice must be -20 to 19, got {a.nice}")
    if not _NODE_NAME.fullmatch(a.system_name):
        raise ConfigError(f"{src}: asterisk.system_name must be letters, digits and _ (it starts every "
                          f"channel id, up to the first '-'), got {a.system_name!r}")
    if a.proxy and not _ipv4_and_port(a.proxy):
        # An IPv4 address, not a name: the node's ACL permits it, and Asterisk's ACL takes
        # no names (a bad entry would leave the node open to everyone).
        raise ConfigError(f"{src}: asterisk.proxy must be IPv4-address:port (the cluster's SIP proxy), "
                          f"got {a.proxy!r}")
    s.ari_nodes  # noqa: B018 - parsed here so that a bad list is refused at start
    if not 0 <= a.qualify_seconds <= 3600:
        raise ConfigError(f"{src}: asterisk.qualify_seconds must be 0 (off) to 3600, got {a.qualify_seconds}")
    if s.callflow.max_waiting < 1:
        raise ConfigError(f"{src}: callflow.max_waiting must be 1 or more, got {s.callflow.max_waiting}")
    if s.callflow.wrapup_seconds < 0:
        raise ConfigError(f"{src}: callflow.wrapup_seconds must not be negative, got {s.callflow.wrapup_seconds}")
    n = s.nuisance
    for key in ("repeat_window_minutes", "marks_window_hours", "flag_hours", "hard_limit_window_minutes",
                "short_call_seconds"):
        if getattr(n, key) <= 0:
            raise ConfigError(f"{src}: nuisance.{key} must be positive, got {getattr(n, key)}")
    for key in ("repeat_calls", "marks_to_flag"):
        if getattr(n, key) < 1:
            raise ConfigError(f"{src}: nuisance.{key} must be 1 or more, got {getattr(n, key)}")
    if n.hard_limit_calls < 0:
        raise ConfigError(f"{src}: nuisance.hard_limit_calls must be 0 (off) or more, got {n.hard_limit_calls}")
    if a.mode == "external" and not a.ari_url and not a.nodes.strip():
        raise ConfigError(f"{src}: asterisk.mode is 'external' but asterisk.ari_url (or asterisk.nodes) is empty")
    if not 1 <= s.hotline.seats <= 500:
        raise ConfigError(f"{src}: hotline.seats must be 1-500, got {s.hotline.seats}")
    # Every setting below is written into Asterisk's configuration: ASCII only, no line
    # breaks or separators (str.isdigit() would let "１２３" or "²" through).
    if not _ASCII_DIGITS.fullmatch(s.hotline.number):
        raise ConfigError(f"{src}: hotline.number must be 1-20 digits 0-9, got {s.hotline.number!r}")
    if not _CALLER_ID.fullmatch(cb.caller_id):
        raise ConfigError(f"{src}: callbacks.caller_id must be digits 0-9 (a leading + allowed), got {cb.caller_id!r}")
    try:
        ZoneInfo(s.hotline.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"{src}: hotline.timezone {s.hotline.timezone!r} is not a known time zone") from None
    _validate_mail(src, s.mail)


_ASCII_DIGITS = re.compile(r"[0-9]{1,20}")
_CALLER_ID = re.compile(r"\+?[0-9]{1,20}")
# A host name, an IPv4 address or a bracketed IPv6 address, with an optional port.
_HOST_PORT = re.compile(r"(?:[A-Za-z0-9](?:[A-Za-z0-9.-]{0,252})|\[[0-9A-Fa-f:.]{2,45}\])(?::[0-9]{1,5})?")


def _ipv4_and_port(value: str) -> bool:
    host, _, port = value.rpartition(":")
    try:
        ipaddress.IPv4Address(host)
    except ValueError:
        return False
    return port.isdigit() and 0 < int(port) < 65536


def _validate_store(src: Path, store: StoreSection) -> None:
    from callcenter.store.url import StoreUrlError, parse_store_url  # pure; no database is reached

    try:
        parse_store_url(store.url)
    except StoreUrlError as exc:
        raise ConfigError(f"{src}: store.url {exc}") from None


def _validate_mail(src: Path, m: MailSection) -> None:
    from callcenter.mail.address import is_mail_address  # pure; the package imports nothing at load

    if not 1 <= m.port <= 65535:
        raise ConfigError(f"{src}: mail.port must be a port 1-65535, got {m.port}")
    if not 0 <= m.deadline_warning_working_days <= 30:
        raise ConfigError(f"{src}: mail.deadline_warning_working_days must be 0 (off) to 30,"
                          f" got {m.deadline_warning_working_days}")
    if m.console_url and not re.fullmatch(r"https?://[^\s/?#]+(/[^\s]*)?", m.console_url):
        raise ConfigError(f"{src}: mail.console_url must be an http:// or https:// address, got {m.console_url!r}")
    if m.sender and not is_mail_address(m.sender):
        raise ConfigError(f"{src}: mail.sender must be a mail address like hotline@example.org, got {m.sender!r}")
    if any(ch.isspace() for ch in m.host):
        raise ConfigError(f"{src}: mail.host must be a host name or address, got {m.host!r}")
    if bool(m.user) != bool(m.password):
        raise ConfigError(f"{src}: mail.user and the password (HOTLINE_MAIL_PASSWORD) go together:"
                          " set both for SMTP AUTH, or neither")
    if not m.enabled:
        return
    if not m.host:
        raise ConfigError(f"{src}: mail.enabled is true but mail.host is empty")
    if not m.sender:
        raise ConfigError(f"{src}: mail.enabled is true but mail.sender is empty")
    if m.user and not m.starttls and m.host not in ("127.0.0.1", "::1", "localhost"):
        raise ConfigError(f"{src}: mail.user is set but mail.starttls is false: the password would cross"
                          f" the network to {m.host} in clear")


# A supervisor's phone is a PJSIP endpoint, a section name in pjsip.conf and a console
# account: letters, digits, - and _ only (no character Asterisk's config would read apart).
_PHONE_NAME = re.compile(r"[a-z][a-z0-9_-]{1,31}")
# Endpoint names the configuration already gives to something else.
_RESERVED_ENDPOINTS = ("anonymous", TRUNK_ENDPOINT)


def _validate_channels(s: Settings) -> None:
    src, ch, pub, sms = s.source, s.channels, s.public, s.sms
    for key in ("sms_response_minutes", "mailbox_response_hours", "forum_response_hours", "follow_up_minutes"):
        if getattr(ch, key) <= 0:
            raise ConfigError(f"{src}: channels.{key} must be positive, got {getattr(ch, key)}")
    if not 0 < ch.nearing_share < 1:
        raise ConfigError(f"{src}: channels.nearing_share must be between 0 and 1, got {ch.nearing_share}")
    if not ch.intake_unit.strip():
        raise ConfigError(f"{src}: channels.intake_unit must name a unit of config/units.toml")
    if not 1 <= pub.port <= 65535:
        raise ConfigError(f"{src}: public.port must be a port 1-65535, got {pub.port}")
    try:
        ipaddress.ip_address(pub.bind)
    except ValueError:
        raise ConfigError(f"{src}: public.bind must be an IP address, got {pub.bind!r}") from None
    if pub.base_url and not re.fullmatch(r"https?://[^\s/]+(/[^\s]*)?", pub.base_url):
        raise ConfigError(f"{src}: public.base_url must be an http(s) address, got {pub.base_url!r}")
    if pub.form_limit < 1 or pub.form_window_minutes <= 0:
        raise ConfigError(f"{src}: public.form_limit must be 1 or more and public.form_window_minutes positive")
    if not re.fullmatch(r"[0-9]{3,20}", sms.number):
        raise ConfigError(f"{src}: sms.number must be digits, got {sms.number!r}")
    if sms.window_seconds < 1 or sms.merge_hours < 0:
        raise ConfigError(f"{src}: sms.window_seconds must be 1 or more and sms.merge_hours 0 or more")
    if sms.gateway_url and not re.fullmatch(r"https?://[^\s/]+(/[^\s]*)?", sms.gateway_url):
        raise ConfigError(f"{src}: sms.gateway_url must be an http(s) address, got {sms.gateway_url!r}")


def _validate_listen_in(s: Settings) -> None:
    src = s.source
    phones = s.supervisor_phones
    for name in phones:
        if not _PHONE_NAME.fullmatch(name):
            raise ConfigError(f"{src}: listen_in.phones: {name!r} is not a valid phone name"
                              " (lower-case letters, digits, - or _, starting with a letter, 2-32 long)")
        if name in s.seat_names or name.startswith("seat") or name in _RESERVED_ENDPOINTS:
            raise ConfigError(f"{src}: listen_in.phones: {name!r} is the name of a seat or of another"
                              " endpoint; a supervisor's phone needs a name of its own")
    if len(set(phones)) != len(phones):
        raise ConfigError(f"{src}: listen_in.phones names a phone twice: {s.listen_in.phones!r}")
    if s.listen_in.answer_seconds <= 0:
        raise ConfigError(f"{src}: listen_in.answer_seconds must be positive, got {s.listen_in.answer_seconds}")


def load_or_create_credentials(path: Path, seats_wanted: tuple[str, ...] = SEAT_NAMES,
                               supervisors_wanted: tuple[str, ...] = ()) -> Credentials:
    """Read the generated credentials, creating any that are missing (file mode 0600)."""
    existing: dict[str, typing.Any] = {}
    if path.exists():
        try:
            existing = tomllib.loads(path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{path}: credentials file is damaged ({exc}); move it away to regenerate") from None
    wanted = {"ari_user": "hotline", "ari_password": None, "ami_user": "hotline", "ami_password": None}
    changed = not path.exists()
    values: dict[str, str] = {}
    for key, fixed in wanted.items():
        current = existing.get(key)
        if not isinstance(current, str) or not current:
            current = fixed or secrets.token_urlsafe(18)
            changed = True
        values[key] = current
    seats, seats_changed = _sip_passwords(existing.get("seats", {}), seats_wanted)
    supervisors, supervisors_changed = _sip_passwords(existing.get("supervisors", {}), supervisors_wanted)
    if changed or seats_changed or supervisors_changed:
        # A supervisor's phone taken out of listen_in.phones keeps its password in the
        # file (not in Asterisk): put back, the phone registers as before.
        stored = existing.get("supervisors")
        kept = {k: v for k, v in stored.items() if isinstance(v, str) and v} if isinstance(stored, dict) else {}
        _write_credentials(path, values, seats, kept | supervisors)
    return Credentials(seat_passwords=seats, supervisor_passwords=supervisors, **values)


def _sip_passwords(stored: object, wanted: tuple[str, ...]) -> tuple[dict[str, str], bool]:
    """The wanted phones' passwords as kept in the file, one generated for each phone
    without one; whether any was new."""
    kept = stored if isinstance(stored, dict) else {}
    passwords: dict[str, str] = {}
    changed = False
    for name in wanted:
        current = kept.get(name)
        if not isinstance(current, str) or not current:
            current = secrets.token_urlsafe(12)
            changed = True
        passwords[name] = current
    return passwords, changed


def _write_credentials(path: Path, values: Mapping[str, str], seats: Mapping[str, str],
                       supervisors: Mapping[str, str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = ["# Generated by the hotline engine. Keep this file private (mode 0600).", ""]
    lines += [f'{k} = "{v}"' for k, v in values.items()]
    lines += ["", "# SIP digest passwords of the operator seats (user name = seat name).", "[seats]"]
    lines += [f'{k} = "{v}"' for k, v in seats.items()]
    lines += ["", "# SIP digest passwords of the supervisors' phones (user name = the supervisor's account).",
              "[supervisors]"]
    lines += [f'{k} = "{v}"' for k, v in supervisors.items()]
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write("\n".join(lines) + "\n")
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)

"""SIP over UDP in a few lines, for the proxy's tests: a request and its final answer
(`ask`), and a fake Asterisk node (`FakeNode`) that answers the dispatcher's OPTIONS and
treats INVITEs as told (answer, refuse with 503 or 403, or never answer). Enough SIP to see where
Kamailio routes a request and what it answers, without starting an Asterisk."""

from __future__ import annotations

import hashlib
import re
import secrets
import socket
import threading
import time
from dataclasses import dataclass, field
from typing import Literal

Behaviour = Literal["answers", "refuses", "forbids", "hangs"]


def _headers(message: str) -> tuple[str, list[tuple[str, str]]]:
    head = message.split("\r\n\r\n", 1)[0].split("\r\n")
    pairs = [(name.strip().lower(), value.strip()) for name, _, value in (line.partition(":") for line in head[1:])]
    return head[0], pairs


@dataclass(frozen=True, slots=True)
class Answer:
    code: int
    reason: str
    seconds: float  # from the request to its final answer
    headers: list[tuple[str, str]] = field(default_factory=list)  # (lower-case name, value)

    def header(self, name: str) -> str:
        return next((value for key, value in self.headers if key == name), "")


class NoAnswer(AssertionError):
    """No final answer came in time."""


def ask(target: tuple[str, int], method: str, user: str | None, *, source: str = "127.0.0.1",
        from_user: str = "13800000000", timeout: float = 10.0, uri: str = "", in_dialog: bool = False,
        contact: str = "", extra: str = "") -> Answer:
    """Send one request from `source` (a loopback address) to `target` for `user` (None:
    the server itself) and wait for its final answer; a non-2xx answer to an INVITE is
    acknowledged, as a phone does (or the proxy would repeat it). `uri`: another request
    URI, sent to `target` all the same; `in_dialog`: posing as a request inside a dialog
    (a to-tag, and a Route through `target`); `contact`: another Contact; `extra`: more
    header lines."""
    host, port = target
    uri = uri or (f"sip:{user}@{host}:{port}" if user else f"sip:{host}:{port}")
    dialog = f";tag={secrets.token_hex(4)}\r\nRoute: <sip:{host}:{port};lr>" if in_dialog else ""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((source, 0))
        local = f"{source}:{sock.getsockname()[1]}"
        branch, tag, call_id = (f"z9hG4bK-{secrets.token_hex(6)}", secrets.token_hex(4),
                                f"{secrets.token_hex(8)}@{source}")
        via = f"SIP/2.0/UDP {local};branch={branch};rport"
        sender = f"<sip:{from_user}@{source}>;tag={tag}"
        request = (f"{method} {uri} SIP/2.0\r\nVia: {via}\r\nMax-Forwards: 70\r\nFrom: {sender}\r\n"
                   f"To: <{uri}>{dialog}\r\nCall-ID: {call_id}\r\nCSeq: 1 {method}\r\n"
                   f"Contact: <{contact or f'sip:{from_user}@{local}'}>\r\n{extra}Content-Length: 0\r\n\r\n").encode()
        started = time.monotonic()
        sock.settimeout(0.5)
        while time.monotonic() - started < timeout:
            sock.sendto(request, target)  # again every 0.5 s until answered: UDP may lose it
            try:
                while True:
                    data, _ = sock.recvfrom(65535)
                    status, headers = _headers(data.decode(errors="replace"))
                    code = int(status.split()[1])
                    if code >= 200:
                        break
            except TimeoutError:
                continue
            if method == "INVITE" and code >= 300:
                to = next(value for name, value in headers if name in ("to", "t"))
                sock.sendto((f"ACK {uri} SIP/2.0\r\nVia: {via}\r\nMax-Forwards: 70\r\nFrom: {sender}\r\n"
                             f"To: {to}\r\nCall-ID: {call_id}\r\nCSeq: 1 ACK\r\nContent-Length: 0\r\n\r\n")
                            .encode(), target)
            return Answer(code, status.split(" ", 2)[2], time.monotonic() - started, headers)
    raise NoAnswer(f"{method} {uri}: no final answer within {timeout:.0f} s")


def flood(target: tuple[str, int], source: str, count: int) -> int:
    """`count` OPTIONS from `source` as fast as they go; how many were answered (within
    a second of the last)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((source, 0))
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        local = f"{source}:{sock.getsockname()[1]}"
        for n in range(count):
            sock.sendto((f"OPTIONS sip:{target[0]}:{target[1]} SIP/2.0\r\n"
                         f"Via: SIP/2.0/UDP {local};branch=z9hG4bK-flood-{n}-{secrets.token_hex(4)};rport\r\n"
                         f"Max-Forwards: 70\r\nFrom: <sip:flood@{source}>;tag={n}\r\nTo: <sip:{target[0]}>\r\n"
                         f"Call-ID: flood-{n}-{secrets.token_hex(4)}\r\nCSeq: 1 OPTIONS\r\n"
                         "Content-Length: 0\r\n\r\n").encode(), target)
        answered = 0
        sock.settimeout(1.0)
        try:
            while True:
                sock.recvfrom(65535)
                answered += 1
        except TimeoutError:
            return answered


def register(target: tuple[str, int], user: str, password: str, contact: str, auth_user: str = "") -> Answer:
    """REGISTER `user` at `contact` with digest authentication (RFC 2617 without qop, as
    the proxy's challenge allows) as `auth_user` (default: `user`); the final answer to
    the authenticated REGISTER."""
    challenge = ask(target, "REGISTER", user, from_user=user, contact=contact)
    if challenge.code != 401:
        return challenge
    fields = dict(re.findall(r'(\w+)="([^"]*)"', challenge.header("www-authenticate")))
    uri = f"sip:{user}@{target[0]}:{target[1]}"
    auth_user = auth_user or user
    ha1 = hashlib.md5(f"{auth_user}:{fields['realm']}:{password}".encode()).hexdigest()
    ha2 = hashlib.md5(f"REGISTER:{uri}".encode()).hexdigest()
    response = hashlib.md5(f"{ha1}:{fields['nonce']}:{ha2}".encode()).hexdigest()
    authorization = (f'Authorization: Digest username="{auth_user}", realm="{fields["realm"]}", '
                     f'nonce="{fields["nonce"]}", uri="{uri}", response="{response}", algorithm=MD5\r\n')
    return ask(target, "REGISTER", user, from_user=user, contact=contact, extra=authorization)


@dataclass
class FakeNode:
    """A UDP SIP peer on `address` (a port of its own): 200 to OPTIONS unless `silent`,
    INVITEs answered as `behaviour` says; counts the INVITEs it was sent."""

    name: str
    address: str
    behaviour: Behaviour = "answers"
    silent: bool = False  # answers nothing at all (a dead node, for the probes)
    options_answer: str = "200 OK"
    invites: int = 0
    options: int = 0
    requests: int = 0  # of any method, retransmissions too
    _sock: socket.socket = field(init=False, repr=False)
    _thread: threading.Thread = field(init=False, repr=False)
    _seen: set[str] = field(default_factory=set, init=False, repr=False)
    _running: bool = field(default=True, init=False, repr=False)

    def __post_init__(self) -> None:
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._sock.bind((self.address, 0))
        self._sock.settimeout(0.2)
        self._thread = threading.Thread(target=self._serve, name=f"fake-{self.name}", daemon=True)
        self._thread.start()

    @property
    def port(self) -> int:
        return int(self._sock.getsockname()[1])

    @property
    def target(self) -> str:
        return f"{self.address}:{self.port}"

    def close(self) -> None:
        self._running = False
        self._thread.join()
        self._sock.close()

    def _serve(self) -> None:
        while self._running:
            try:
                data, peer = self._sock.recvfrom(65535)
            except TimeoutError:
                continue
            text = data.decode(errors="replace")
            first, headers = _headers(text)
            method = first.split(" ", 1)[0]
            if first.startswith("SIP/2.0"):
                continue
            self.requests += 1
            if self.silent or method == "ACK":
                continue
            if method == "OPTIONS":
                self.options += 1
                self._reply(peer, headers, self.options_answer)
            elif method == "INVITE":
                branch = next((v for n, v in headers if n in ("via", "v")), "")
                if branch not in self._seen:  # a retransmission is not another call
                    self._seen.add(branch)
                    self.invites += 1
                if self.behaviour == "answers":
                    self._reply(peer, headers, "200 OK", f"Contact: <sip:{self.name}@{self.target}>\r\n")
                elif self.behaviour == "refuses":
                    self._reply(peer, headers, "503 Service Unavailable")
                elif self.behaviour == "forbids":
                    self._reply(peer, headers, "403 Forbidden")
            else:
                self._reply(peer, headers, "405 Method Not Allowed")

    def _reply(self, peer: tuple[str, int], headers: list[tuple[str, str]], status: str, extra: str = "") -> None:
        kept = []
        for name, value in headers:
            if name in ("via", "v"):
                kept.append(f"Via: {value}")
            elif name in ("from", "f", "call-id", "i", "cseq", "record-route"):
                kept.append(f"{name}: {value}")
            elif name in ("to", "t"):
                kept.append(f"To: {value}" + ("" if ";tag=" in value else f";tag={self.name}"))
        text = f"SIP/2.0 {status}\r\n" + "".join(f"{line}\r\n" for line in kept) + extra + \
            f"Server: {self.name}\r\nContent-Length: 0\r\n\r\n"
        self._sock.sendto(text.encode(), peer)

"""Hostile SIP for the tests: a corpus of malformed messages, a REGISTER brute force with
digest answers computed for wrong passwords, and out-of-dialog method probes. Raw
sockets on loopback only."""

from __future__ import annotations

import contextlib
import hashlib
import random
import re
import socket
from dataclasses import dataclass

from tests.harness import LOOPBACK


def _headers(method: str, target: str, port: int, call_id: str, extra: str = "", body: str = "",
             length: int | None = None, from_user: str = "13800000000") -> str:
    size = len(body.encode("utf-8", "surrogateescape")) if length is None else length
    return (f"{method} sip:{target}@{LOOPBACK}:{port} SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP {LOOPBACK}:5999;branch=z9hG4bK{call_id}\r\n"
            f"From: <sip:{from_user}@{LOOPBACK}>;tag={call_id}\r\n"
            f"To: <sip:{target}@{LOOPBACK}>\r\n"
            f"Call-ID: {call_id}\r\n"
            f"CSeq: 1 {method}\r\n"
            f"Contact: <sip:{from_user}@{LOOPBACK}:5999>\r\n"
            f"Max-Forwards: 70\r\n{extra}"
            f"Content-Length: {size}\r\n\r\n{body}")


SDP = ("v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
       "m=audio 6000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n")


def corpus(port: int, number: str = "12345") -> list[bytes]:
    """At least fifty malformed or hostile messages, each a whole datagram or stream."""
    rng = random.Random(12345)
    out: list[bytes] = []

    def add(text: str | bytes) -> None:
        out.append(text if isinstance(text, bytes) else text.encode("utf-8", "surrogateescape"))

    def cid() -> str:
        return f"hostile{len(out)}x{rng.randrange(10**9)}"

    good = _headers("INVITE", number, port, cid(), "Content-Type: application/sdp\r\n", SDP)
    add(good[: len(good) // 3])  # truncated in the headers
    add(good[: len(good) - 40])  # truncated in the body
    add(_headers("INVITE", number, port, cid(), "X-Long: " + "A" * 70000 + "\r\n"))  # one huge header
    add(_headers("INVITE", number, port, cid(), "Content-Type: application/sdp\r\n", "x" * 200000))  # huge body
    for length in (99999, 3, -1):
        add(_headers("INVITE", number, port, cid(), "Content-Type: application/sdp\r\n", SDP, length=length))
    add(_headers("INVITE", number, port, cid(), "Content-Type: application/sdp\r\n", SDP).replace(
        "Content-Length: ", "Content-Length: abc", 1))
    add(_headers("INVITE", number, port, cid(), "Content-Type: application/sdp\r\n", SDP).encode()
        .replace(b"<sip:13800000000", b"\"\xff\xfe\xc3\x28\" <sip:13800000000", 1))  # invalid UTF-8 name
    add(_headers("INVITE", number, port, cid(), "Content-Type: application/sdp\r\n", SDP).encode()
        .replace(b"Max-Forwards", b"Max-\x00Forwards", 1))  # NUL in a header name
    broken_sdps = [
        SDP.replace("c=IN IP4 127.0.0.1\r\n", ""), SDP.replace("6000", "99999"), SDP.replace("RTP/AVP 0", "RTP/AVP"),
        "v=0\r\n", "garbage\r\n" * 50, SDP.replace("v=0", "v=9"), SDP + "m=video 0 RTP/AVP 999\r\n" * 200,
        SDP.replace("PCMU/8000", "PCMU/" + "9" * 400), SDP.replace("IN IP4 127.0.0.1", "IN IP6 ::::::::::"),
        SDP.replace("\r\n", "\n"),
    ]
    for body in broken_sdps:
        add(_headers("INVITE", number, port, cid(), "Content-Type: application/sdp\r\n", body))
    for header in ("Call-ID", "CSeq", "From", "To", "Via"):
        text = _headers("INVITE", number, port, cid(), "Content-Type: application/sdp\r\n", SDP)
        add(re.sub(rf"^{header}:[^\r]*\r\n", "", text, count=1, flags=re.M))  # a required header missing
    add(_headers("INVITE", number, port, cid(), "Via: SIP/2.0/UDP 127.0.0.1:5999;branch=z9hG4bKx\r\n" * 500))
    add(_headers("INVITE", number, port, cid()).replace("CSeq: 1 INVITE", "CSeq: 99999999999999999999 INVITE"))
    add(_headers("INVITE", number, port, cid()).replace("CSeq: 1 INVITE", "CSeq: 1 BYE"))  # method mismatch
    add(_headers("INVITE", number, port, cid()).replace("SIP/2.0\r\n", "SIP/9.9\r\n", 1))
    add(_headers("INVITE", number, port, cid()).replace("INVITE sip:", "INVITE http:", 1))
    add(_headers("INVITE", number, port, cid()).replace("INVITE sip:", "INVITE  sip:", 1))
    add(_headers("INVITE", "1" * 5000, port, cid()))  # a huge request URI user
    add(_headers("INVITE", "%00%0d%0a", port, cid()))
    add(_headers("INVITE", number, port, cid()).replace("Max-Forwards: 70", "Max-Forwards: 0"))
    add(_headers("INVITE", number, port, cid()).replace("Max-Forwards: 70", "Max-Forwards: -5"))
    add(_headers("INVITE", number, port, cid(), " folded: continuation\r\n"))
    add(_headers("INVITE", number, port, cid(), "Content-Type: multipart/mixed;boundary=x\r\n",
                 "--x\r\n\r\n" + "--x\r\n" * 1000))
    add(_headers("INVITE", number, port, cid(), from_user="\"' OR 1=1;--\"").replace("\r\n\r\n", "\r\n\r\n", 1))
    add(_headers("INVITE", number, port, cid(), from_user="a" * 3000))
    add(_headers("REGISTER", "seat1", port, cid(), "Authorization: Digest username=\"seat1\", response=\"\"\r\n"))
    add(_headers("REGISTER", "seat1", port, cid(), "Authorization: Digest " + "x=" * 5000 + "\r\n"))
    add(_headers("REGISTER", "seat1", port, cid(), "Expires: -1\r\n"))
    add(_headers("REGISTER", "seat1", port, cid(), "Expires: 99999999999999999999\r\n"))
    add(_headers("ACK", number, port, cid()))
    add(_headers("BYE", number, port, cid()))
    add(_headers("CANCEL", number, port, cid()))
    add(_headers("PRACK", number, port, cid()))
    add(_headers("UPDATE", number, port, cid()))
    add(_headers("INFO", number, port, cid(), "Content-Type: application/dtmf-relay\r\n", "Signal=5\r\n"))
    add(_headers("NOTIFY", number, port, cid(), "Event: check-sync\r\n"))
    add(_headers("PUBLISH", number, port, cid(), "Event: presence\r\n"))
    add(_headers("FOOBAR", number, port, cid()))
    add("SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 127.0.0.1:5999;branch=z9hG4bKstray\r\nCall-ID: stray\r\n"
        "CSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n")  # a stray response
    add("\r\n\r\n")  # a keep-alive alone
    add("")
    add(bytes(rng.randrange(256) for _ in range(1400)))  # random bytes
    add(bytes(rng.randrange(32, 127) for _ in range(1400)))  # random printable text
    add("INVITE\r\n\r\n")
    add("INVITE sip:12345@127.0.0.1 SIP/2.0\r\n" + "X: y\r\n" * 3000 + "\r\n")  # thousands of headers
    return out


def send_udp(port: int, messages: list[bytes]) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        for message in messages:
            # Too big for a datagram is refused here: what matters is what the server does with the rest.
            with contextlib.suppress(OSError):
                sock.sendto(message[:65000], (LOOPBACK, port))


def send_tcp(port: int, messages: list[bytes]) -> None:
    for message in messages:
        # The server may close on us: that is its right.
        with contextlib.suppress(OSError), socket.create_connection((LOOPBACK, port), timeout=2) as sock:
            sock.sendall(message)
            sock.settimeout(0.2)
            sock.recv(4096)


@dataclass
class Reply:
    status: int
    headers: str


def _request(sock: socket.socket, text: str, port: int) -> Reply | None:
    sock.sendto(text.encode(), (LOOPBACK, port))
    try:
        data, _ = sock.recvfrom(65535)
    except OSError:
        return None
    head = data.decode("utf-8", "replace")
    match = re.match(r"SIP/2.0 (\d{3})", head)
    return Reply(int(match.group(1)), head) if match else None


def brute_force_register(port: int, user: str, attempts: int) -> list[int]:
    """`attempts` REGISTERs for `user`, each answering its 401 challenge with the digest
    of a wrong password; the final statuses."""
    statuses: list[int] = []
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((LOOPBACK, 0))
        sock.settimeout(2)
        local = sock.getsockname()[1]
        for n in range(attempts):
            call_id = f"brute{n}x{random.randrange(10**9)}"

            def register(cseq: int, authorization: str = "", call_id: str = call_id) -> str:
                return (f"REGISTER sip:{LOOPBACK}:{port} SIP/2.0\r\n"
                        f"Via: SIP/2.0/UDP {LOOPBACK}:{local};branch=z9hG4bK{call_id}{cseq};rport\r\n"
                        f"From: <sip:{user}@{LOOPBACK}>;tag={call_id}\r\nTo: <sip:{user}@{LOOPBACK}>\r\n"
                        f"Call-ID: {call_id}\r\nCSeq: {cseq} REGISTER\r\n"
                        f"Contact: <sip:{user}@{LOOPBACK}:{local}>\r\nExpires: 60\r\nMax-Forwards: 70\r\n"
                        f"{authorization}Content-Length: 0\r\n\r\n")

            challenge = _request(sock, register(1), port)
            if challenge is None or challenge.status != 401:
                statuses.append(challenge.status if challenge else 0)
                continue
            realm = re.search(r'realm="([^"]*)"', challenge.headers)
            nonce = re.search(r'nonce="([^"]*)"', challenge.headers)
            uri = f"sip:{LOOPBACK}:{port}"
            ha1 = hashlib.md5(f"{user}:{realm.group(1) if realm else ''}:wrong{n}".encode()).hexdigest()
            ha2 = hashlib.md5(f"REGISTER:{uri}".encode()).hexdigest()
            response = hashlib.md5(f"{ha1}:{nonce.group(1) if nonce else ''}:{ha2}".encode()).hexdigest()
            auth = (f'Authorization: Digest username="{user}", realm="{realm.group(1) if realm else ""}", '
                    f'nonce="{nonce.group(1) if nonce else ""}", uri="{uri}", response="{response}", '
                    f"algorithm=MD5\r\n")
            answer = _request(sock, register(2, auth), port)
            statuses.append(answer.status if answer else 0)
    return statuses


def probe(port: int, method: str, target: str, extra: str = "", body: str = "", from_user: str = "13800000000") -> int:
    """One out-of-dialog request from an anonymous caller; its final status (0: none)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((LOOPBACK, 0))
        sock.settimeout(3)
        call_id = f"probe{random.randrange(10**9)}"
        text = _headers(method, target, port, call_id, extra, body, from_user=from_user).replace(
            f"{LOOPBACK}:5999", f"{LOOPBACK}:{sock.getsockname()[1]}")
        reply = _request(sock, text, port)
        while reply is not None and reply.status < 200:
            try:
                data, _ = sock.recvfrom(65535)
            except OSError:
                return reply.status
            match = re.match(r"SIP/2.0 (\d{3})", data.decode("utf-8", "replace"))
            reply = Reply(int(match.group(1)), "") if match else None
        return reply.status if reply else 0

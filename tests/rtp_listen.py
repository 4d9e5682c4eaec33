"""What a SIPp party hears: the RTP Asterisk sends to its media port, caught on loopback,
decoded from G.711, and the level of a tone in it (a Goertzel filter).

SIPp cannot save the audio it receives, so a raw packet socket on `lo` (root; loopback
only) records every UDP packet to the ports asked for, with the time it arrived.
"""

from __future__ import annotations

import math
import socket
import struct
import threading
import time
import wave
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

ETH_P_ALL = 0x0003
PACKET_OUTGOING = 4  # on loopback every packet is seen leaving and arriving: keep the arrival
RATE = 8000


def _ulaw_to_linear(code: int) -> int:
    code = ~code & 0xFF
    exponent, mantissa = (code >> 4) & 0x07, code & 0x0F
    magnitude = (((mantissa << 3) + 0x84) << exponent) - 0x84
    return -magnitude if code & 0x80 else magnitude


def _alaw_to_linear(code: int) -> int:
    code ^= 0x55
    exponent, mantissa = (code >> 4) & 0x07, code & 0x0F
    magnitude = (mantissa << 4) + 8 if exponent == 0 else ((mantissa << 4) + 0x108) << (exponent - 1)
    return magnitude if code & 0x80 else -magnitude


ULAW = [_ulaw_to_linear(n) for n in range(256)]
ALAW = [_alaw_to_linear(n) for n in range(256)]
DECODERS = {0: ULAW, 8: ALAW}


@dataclass(frozen=True)
class RtpPacket:
    at: float
    dst_port: int
    payload_type: int
    seq: int
    payload: bytes


@dataclass
class RtpListener:
    """Every RTP packet sent over loopback to one of `ports`, from start() to stop()."""

    ports: frozenset[int]
    packets: list[RtpPacket] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> RtpListener:
        sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
        sock.bind(("lo", 0))
        sock.settimeout(0.2)
        self._thread = threading.Thread(target=self._run, args=(sock,), name="rtp-listener", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)

    def __enter__(self) -> RtpListener:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _run(self, sock: socket.socket) -> None:
        with sock:
            while not self._stop.is_set():
                try:
                    frame, address = sock.recvfrom(65535)
                except TimeoutError:
                    continue
                if address[2] == PACKET_OUTGOING:
                    continue
                packet = self._parse(frame[14:], time.time())
                if packet is not None:
                    self.packets.append(packet)

    def _parse(self, ip: bytes, at: float) -> RtpPacket | None:
        if len(ip) < 20 or ip[0] >> 4 != 4 or ip[9] != 17:
            return None
        udp = ip[(ip[0] & 0x0F) * 4:]
        if len(udp) < 20:
            return None
        dst_port = struct.unpack("!H", udp[2:4])[0]
        rtp = udp[8:]
        if dst_port not in self.ports or rtp[0] >> 6 != 2:
            return None
        payload_type, seq = rtp[1] & 0x7F, struct.unpack("!H", rtp[2:4])[0]
        start = 12 + 4 * (rtp[0] & 0x0F)
        if rtp[0] & 0x10:  # a header extension: its length in 32-bit words follows its profile
            start += 4 + 4 * struct.unpack("!H", rtp[start + 2:start + 4])[0]
        return RtpPacket(at, dst_port, payload_type, seq, rtp[start:])

    def samples(self, port: int, since: float, until: float) -> list[int]:
        """The G.711 audio sent to `port` that arrived between the two times, as linear samples."""
        chosen = [p for p in list(self.packets)
                  if p.dst_port == port and since <= p.at <= until and p.payload_type in DECODERS]
        out: list[int] = []
        for packet in chosen:
            table = DECODERS[packet.payload_type]
            out.extend(table[b] for b in packet.payload)
        return out


def tone_level(samples: Sequence[int], frequency: float, rate: int = RATE) -> float:
    """The amplitude of `frequency` in the samples, in dB below full scale (Goertzel)."""
    if not samples:
        return -120.0
    coefficient = 2 * math.cos(2 * math.pi * frequency / rate)
    before, earlier = 0.0, 0.0
    for sample in samples:
        before, earlier = sample + coefficient * before - earlier, before
    power = before * before + earlier * earlier - coefficient * before * earlier
    amplitude = 2 * math.sqrt(max(power, 0.0)) / len(samples)
    return 20 * math.log10(max(amplitude, 1e-3) / 32768)


def levels(samples: Sequence[int], frequencies: Iterable[float]) -> dict[float, float]:
    return {f: round(tone_level(samples, f), 1) for f in frequencies}


def wav_samples(path: Path) -> tuple[list[int], int]:
    """A mono 16-bit WAV's samples and its rate (what MixMonitor writes)."""
    with wave.open(str(path), "rb") as wav:
        assert wav.getsampwidth() == 2 and wav.getnchannels() == 1, (wav.getsampwidth(), wav.getnchannels())
        frames = wav.readframes(wav.getnframes())
        rate = wav.getframerate()
    return list(struct.unpack(f"<{len(frames) // 2}h", frames)), rate

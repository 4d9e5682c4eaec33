"""Write an RTP capture (PCMA) that SIPp plays as a caller's voice (`play_pcap_audio`).

Real phones send RTP all the time; a SIPp caller that sends none leaves Asterisk's
MixMonitor nothing to write while bridged. Debian's g711a.pcap lasts only a few seconds,
so tests build a longer one: a quiet 425 Hz tone, 20 ms packets.
"""

from __future__ import annotations

import math
import struct
from pathlib import Path


def _alaw(sample: int) -> int:
    """ITU-T G.711 A-law encoding of one 16-bit linear sample."""
    sign = 0x80 if sample >= 0 else 0x00
    magnitude = min(abs(sample), 32635) >> 3
    if magnitude < 32:
        code = magnitude >> 1
    else:
        exponent = magnitude.bit_length() - 5
        code = (exponent << 4) | ((magnitude >> exponent) & 0x0F)
    return (code | sign) ^ 0x55


def _ulaw(sample: int) -> int:
    """ITU-T G.711 mu-law encoding of one 16-bit linear sample."""
    sign = 0x80 if sample < 0 else 0x00
    magnitude = min(abs(sample), 32635) + 0x84
    exponent = magnitude.bit_length() - 8
    mantissa = (magnitude >> (exponent + 3)) & 0x0F
    return ~(sign | (exponent << 4) | mantissa) & 0xFF


# RTP payload types of G.711 and their encoders.
CODECS = {"PCMU": (0, _ulaw), "PCMA": (8, _alaw)}


def write_tone_pcap(path: Path, seconds: float, frequency: float, codec: str = "PCMU", amplitude: int = 6000) -> Path:
    """A steady tone as G.711 RTP (20 ms packets) for SIPp's play_pcap_audio."""
    payload_type, encode = CODECS[codec]
    packets = int(seconds * 50)
    out = bytearray(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
    phase = 0
    for index in range(packets):
        payload = bytes(
            encode(int(amplitude * math.sin(2 * math.pi * frequency * (phase + n) / 8000))) for n in range(160)
        )
        phase += 160
        rtp = struct.pack("!BBHII", 0x80, payload_type, index & 0xFFFF, (index * 160) & 0xFFFFFFFF,
                          0x12345678) + payload
        udp = struct.pack("!HHHH", 6000, 6000, 8 + len(rtp), 0) + rtp
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), index & 0xFFFF, 0, 64, 17, 0,
                         bytes([127, 0, 0, 1]), bytes([127, 0, 0, 1])) + udp
        frame = b"\x00" * 12 + b"\x08\x00" + ip
        micros = index * 20000
        out += struct.pack("<IIII", micros // 1_000_000, micros % 1_000_000, len(frame), len(frame)) + frame
    path.write_bytes(bytes(out))
    return path


def write_pcma_pcap(path: Path, seconds: float, frequency: float = 425.0, amplitude: int = 6000) -> Path:
    return write_tone_pcap(path, seconds, frequency, "PCMA", amplitude)


DTMF_EVENTS = {**{str(d): d for d in range(10)}, "*": 10, "#": 11, "A": 12, "B": 13, "C": 14, "D": 15}


def write_dtmf_pcap(path: Path, keys: str, payload_type: int = 101, gap_ms: int = 200) -> Path:
    """RFC 4733 telephone-events for each key, each a distinct event (its own timestamp),
    as a phone sends them: marker on the first packet, three end packets."""
    out = bytearray(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
    seq = 0
    clock_ms = 0
    for index, key in enumerate(keys):
        event = DTMF_EVENTS[key]
        timestamp = 8 * (index * (gap_ms + 100) + 100)
        packets = [(160 * n, False, n == 1) for n in range(1, 5)] + [(800, True, False)] * 3
        for duration, end, marker in packets:
            body = struct.pack("!BBH", event, (0x80 if end else 0) | 10, duration)
            rtp = struct.pack("!BBHII", 0x80, (0x80 if marker else 0) | payload_type, seq & 0xFFFF, timestamp,
                              0x12345678) + body
            udp = struct.pack("!HHHH", 6000, 6000, 8 + len(rtp), 0) + rtp
            ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), seq & 0xFFFF, 0, 64, 17, 0,
                             bytes([127, 0, 0, 1]), bytes([127, 0, 0, 1])) + udp
            frame = b"\x00" * 12 + b"\x08\x00" + ip
            micros = clock_ms * 1000
            out += struct.pack("<IIII", micros // 1_000_000, micros % 1_000_000, len(frame), len(frame)) + frame
            seq += 1
            clock_ms += 20
        clock_ms += gap_ms
    path.write_bytes(bytes(out))
    return path

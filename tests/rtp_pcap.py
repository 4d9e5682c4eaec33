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


def write_pcma_pcap(path: Path, seconds: float, frequency: float = 425.0, amplitude: int = 6000) -> Path:
    packets = int(seconds * 50)
    out = bytearray(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
    phase = 0
    for index in range(packets):
        payload = bytes(
            _alaw(int(amplitude * math.sin(2 * math.pi * frequency * (phase + n) / 8000))) for n in range(160)
        )
        phase += 160
        rtp = struct.pack("!BBHII", 0x80, 8, index & 0xFFFF, (index * 160) & 0xFFFFFFFF, 0x12345678) + payload
        udp = struct.pack("!HHHH", 6000, 6000, 8 + len(rtp), 0) + rtp
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), index & 0xFFFF, 0, 64, 17, 0,
                         bytes([127, 0, 0, 1]), bytes([127, 0, 0, 1])) + udp
        frame = b"\x00" * 12 + b"\x08\x00" + ip
        micros = index * 20000
        out += struct.pack("<IIII", micros // 1_000_000, micros % 1_000_000, len(frame), len(frame)) + frame
    path.write_bytes(bytes(out))
    return path

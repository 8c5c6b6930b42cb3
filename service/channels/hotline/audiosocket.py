"""Asterisk AudioSocket framing (res_audiosocket): 1-byte kind, 2-byte big-endian length, payload.

Asterisk connects over TCP and sends the call's UUID first, then audio (16-bit little-endian
signed linear) and DTMF; the server answers with audio frames and ends the call with a
hangup frame. At the end of a call Asterisk simply closes the socket.
"""

from __future__ import annotations

import asyncio
import struct
import uuid
from dataclasses import dataclass
from enum import IntEnum


class Kind(IntEnum):
    HANGUP = 0x00
    UUID = 0x01
    DTMF = 0x03
    SLIN8 = 0x10
    SLIN12 = 0x11
    SLIN16 = 0x12
    SLIN24 = 0x13
    SLIN32 = 0x14
    SLIN44 = 0x15
    SLIN48 = 0x16
    ERROR = 0xFF


AUDIO_RATES = {
    Kind.SLIN8: 8000,
    Kind.SLIN12: 12000,
    Kind.SLIN16: 16000,
    Kind.SLIN24: 24000,
    Kind.SLIN32: 32000,
    Kind.SLIN44: 44100,
    Kind.SLIN48: 48000,
}
_HEADER = struct.Struct(">BH")


@dataclass(frozen=True)
class Frame:
    kind: int  # a `Kind`, or an unknown value from a newer Asterisk (ignored by the caller)
    payload: bytes


class ProtocolError(Exception):
    pass


async def read_frame(reader: asyncio.StreamReader) -> Frame | None:
    """The next frame, or None when the peer closed the connection cleanly between frames."""
    try:
        header = await reader.readexactly(_HEADER.size)
    except asyncio.IncompleteReadError as exc:
        if exc.partial:
            raise ProtocolError("connection closed inside a frame header") from exc
        return None
    kind, length = _HEADER.unpack(header)
    try:
        payload = await reader.readexactly(length)
    except asyncio.IncompleteReadError as exc:
        raise ProtocolError(f"connection closed after {len(exc.partial)} of {length} payload bytes") from exc
    return Frame(kind, payload)


def encode(kind: int, payload: bytes = b"") -> bytes:
    if len(payload) > 0xFFFF:
        raise ValueError("AudioSocket payloads are at most 65535 bytes")
    return _HEADER.pack(kind, len(payload)) + payload


def call_id(frame: Frame) -> str:
    if frame.kind != Kind.UUID or len(frame.payload) != 16:
        raise ProtocolError("the first frame must be a 16-byte UUID")
    return str(uuid.UUID(bytes=frame.payload))

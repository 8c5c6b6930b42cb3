"""A minimal AudioSocket caller: dials the hotline the way Asterisk does, without Asterisk.

Operators use it (`tthc-voice ivr-call`) to check a deployment end to end; the tests and the
IVR benchmark use it to place real calls over loopback.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
import uuid
from collections.abc import Callable

from service.channels.hotline.audiosocket import Kind, encode
from service.channels.hotline.ivr import beep

FRAME_BYTES = 320  # 20 ms of 8 kHz 16-bit audio


class AudioSocketCaller:
    def __init__(
        self,
        host: str,
        port: int,
        call_uuid: uuid.UUID | None = None,
        timeout: float = 60.0,
        source_host: str | None = None,
    ) -> None:
        self.uuid = call_uuid or uuid.uuid4()
        source = (source_host, 0) if source_host else None
        self._sock = socket.create_connection((host, port), timeout=timeout, source_address=source)
        self._lock = threading.Condition()
        self.audio = bytearray()  # everything the service played to us
        self.last_audio_at = 0.0
        self._arrivals: list[tuple[int, float]] = []  # (offset in `audio`, arrival time) per frame
        self.hung_up = False  # the service sent a hangup frame
        self.closed = False  # the connection is gone
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self.send_raw(encode(Kind.UUID, self.uuid.bytes))

    def _recv_exact(self, n: int) -> bytes | None:
        data = b""
        while len(data) < n:
            try:
                chunk = self._sock.recv(n - len(data))
            except OSError:
                return None
            if not chunk:
                return None
            data += chunk
        return data

    def _read(self) -> None:
        try:
            while True:
                header = self._recv_exact(3)
                if header is None:
                    return
                kind, length = header[0], int.from_bytes(header[1:], "big")
                payload = self._recv_exact(length) if length else b""
                if payload is None:
                    return
                with self._lock:
                    if kind == Kind.SLIN8:
                        self.last_audio_at = time.monotonic()
                        self._arrivals.append((len(self.audio), self.last_audio_at))
                        self.audio += payload
                    elif kind == Kind.HANGUP:
                        self.hung_up = True
                    self._lock.notify_all()
        finally:
            with self._lock:
                self.closed = True
                self._lock.notify_all()

    # ---------------------------------------------------------------- sending

    def send_raw(self, data: bytes) -> None:
        self._sock.sendall(data)

    def send_dtmf(self, digit: str) -> None:
        self.send_raw(encode(Kind.DTMF, digit.encode("ascii")))

    def send_audio(self, pcm: bytes, realtime: bool = True) -> None:
        """8 kHz 16-bit mono PCM in 20 ms frames, at the pace of a real line when `realtime`."""
        start = time.monotonic()
        for n, offset in enumerate(range(0, len(pcm), FRAME_BYTES)):
            self.send_raw(encode(Kind.SLIN8, pcm[offset : offset + FRAME_BYTES]))
            if realtime:
                delay = start + (n + 1) * 0.02 - time.monotonic()
                if delay > 0:
                    time.sleep(delay)

    def send_silence(self, seconds: float, realtime: bool = True) -> None:
        self.send_audio(bytes(int(8000 * seconds) * 2), realtime)

    def hang_up(self) -> None:
        """What Asterisk does when the caller puts the phone down: close the socket."""
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_RDWR)
        self._sock.close()

    # ---------------------------------------------------------------- waiting

    def _wait(self, ready: Callable[[], bool], timeout: float) -> bool:
        """Until `ready()` holds (True), or the timeout passes or the line closes first (False)."""
        with self._lock:
            self._lock.wait_for(lambda: ready() or self.closed, timeout)
            return ready()

    def wait_for_audio(self, nbytes: int, timeout: float) -> bool:
        """Until at least `nbytes` of audio arrived in total (False on timeout or close)."""
        return self._wait(lambda: len(self.audio) >= nbytes, timeout)

    def wait_quiet(self, quiet: float = 0.6, timeout: float = 60.0) -> bytes:
        """Until the service stopped talking for `quiet` seconds; the audio received meanwhile."""
        with self._lock:
            start = len(self.audio)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                received = len(self.audio) > start
                if self.closed or (received and time.monotonic() - self.last_audio_at >= quiet):
                    break
                self._lock.wait(0.05)
        with self._lock:
            return bytes(self.audio[start:])

    def arrival_of(self, offset: int) -> float | None:
        """When the frame holding byte `offset` of the received audio arrived (monotonic clock)."""
        with self._lock:
            for start, at in self._arrivals:
                if start >= offset:
                    return at
        return None

    def wait_for_bytes(self, needle: bytes, after: int = 0, timeout: float = 60.0) -> int | None:
        """Until `needle` (e.g. a known prompt) appears in the audio past byte `after`; its offset."""
        if not self._wait(lambda: self.audio.find(needle, after) >= 0, timeout):
            return None
        with self._lock:
            return self.audio.find(needle, after)

    def wait_for_beep(self, after: int = 0, timeout: float = 60.0) -> bool:
        """Until a beep ends the audio received past byte `after` (take it before your key or question)."""
        tone = beep()
        tone += bytes(-len(tone) % FRAME_BYTES)
        return self._wait(lambda: len(self.audio) > after and self.audio.endswith(tone), timeout)

    def wait_closed(self, timeout: float) -> bool:
        return self._wait(lambda: self.closed, timeout)

"""uvicorn, with WebSocket streams drained rather than cut on SIGTERM.

Plain uvicorn closes every WebSocket with 1012 the moment shutdown starts, so a citizen
half-way through a spoken question at the kiosk loses it during a rolling upgrade. Here the
listening socket closes first (the load balancer sends new streams elsewhere), open streams
finish the utterance they are in and get their answer, and only then, or when the grace
period runs out, does uvicorn's own shutdown run.
"""

from __future__ import annotations

import asyncio
import logging
import socket

import h11
import uvicorn
from fastapi import FastAPI
from uvicorn.protocols.http.h11_impl import H11Protocol

log = logging.getLogger("tthc-voice")


class HeaderTimeoutH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with a deadline for request headers (uvicorn has none of its own).

    A client that opens a connection and sends its headers a byte at a time would otherwise
    hold the connection for ever; here the headers of each request must be complete within
    `header_timeout` of the connection opening or the previous response ending.
    """

    header_timeout = 10.0

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._header_deadline: asyncio.TimerHandle | None = None
        self._arm_header_deadline()

    def _arm_header_deadline(self) -> None:
        self._disarm_header_deadline()
        self._header_deadline = self.loop.call_later(self.header_timeout, self._headers_late)

    def _disarm_header_deadline(self) -> None:
        if self._header_deadline is not None:
            self._header_deadline.cancel()
            self._header_deadline = None

    def _headers_late(self) -> None:
        waiting = self.cycle is None or self.cycle.response_complete
        if waiting and not self.transport.is_closing():
            self.logger.info("closing a connection whose request headers took over %g s", self.header_timeout)
            self.transport.close()

    def handle_events(self) -> None:
        super().handle_events()
        if self.cycle is not None and not self.cycle.response_complete:
            self._disarm_header_deadline()  # headers are in: the body has its own timeout

    def handle_websocket_upgrade(self, event: h11.Request) -> None:
        self._disarm_header_deadline()
        super().handle_websocket_upgrade(event)

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing():
            self._arm_header_deadline()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_header_deadline()
        super().connection_lost(exc)


def _protocol_with_header_timeout(seconds: float) -> type[H11Protocol]:
    return type("H11WithHeaderTimeout", (HeaderTimeoutH11Protocol,), {"header_timeout": seconds})


class DrainingServer(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, app: FastAPI) -> None:
        super().__init__(config)
        self._app = app

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        for server in self.servers:
            server.close()
        for sock in sockets or []:
            sock.close()
        state = self._app.state.runtime
        state.draining = True  # run_stream ends each stream after its current utterance
        loop = asyncio.get_running_loop()
        grace = self.config.timeout_graceful_shutdown or 0
        deadline = loop.time() + grace
        if state.stream_slots.active:
            log.info("draining %d stream(s) for up to %d s", state.stream_slots.active, grace)
        while state.stream_slots.active and not self.force_exit and loop.time() < deadline:
            await asyncio.sleep(0.05)
        if state.stream_slots.active:
            log.warning("%d stream(s) still open after the grace period; closing them", state.stream_slots.active)
        self.config.timeout_graceful_shutdown = max(0, round(deadline - loop.time()))
        await super().shutdown(sockets)


def serve(
    app: FastAPI,
    host: str,
    port: int,
    grace_seconds: int,
    log_config: dict[str, object],
    header_timeout_s: float = 10.0,
    max_frame_bytes: int = 1 << 20,
) -> bool:
    """Run until SIGTERM/SIGINT; False when the server never started (port taken, say)."""
    config = uvicorn.Config(
        app,
        http=_protocol_with_header_timeout(header_timeout_s),
        ws_max_size=max_frame_bytes + 1024,  # a bigger frame is refused by uvicorn before it is buffered
        host=host,
        port=port,
        log_config=log_config,
        access_log=False,  # the service writes its own access line, with the request id
        timeout_graceful_shutdown=grace_seconds,
        # uvicorn would rewrite the client address from X-Forwarded-For for any request from
        # 127.0.0.1; TTHC_TRUSTED_PROXIES alone decides whose X-Forwarded-For is believed.
        proxy_headers=False,
    )
    server = DrainingServer(config, app)
    server.run()
    return server.started

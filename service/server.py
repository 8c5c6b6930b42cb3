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

import uvicorn
from fastapi import FastAPI

log = logging.getLogger("tthc-voice")


class DrainingServer(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, app: FastAPI) -> None:
        super().__init__(config)
        self._app = app

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        for server in self.servers:
            server.close()
        for sock in sockets or []:
            sock.close()
        state = self._app.state
        state.draining = True  # run_stream ends each stream after its current utterance
        loop = asyncio.get_running_loop()
        grace = self.config.timeout_graceful_shutdown or 0
        deadline = loop.time() + grace
        if state.active_streams:
            log.info("draining %d stream(s) for up to %d s", state.active_streams, grace)
        while state.active_streams and not self.force_exit and loop.time() < deadline:
            await asyncio.sleep(0.05)
        if state.active_streams:
            log.warning("%d stream(s) still open after the grace period; closing them", state.active_streams)
        self.config.timeout_graceful_shutdown = max(0, round(deadline - loop.time()))
        await super().shutdown(sockets)


def serve(app: FastAPI, host: str, port: int, grace_seconds: int, log_config: dict[str, object]) -> bool:
    """Run until SIGTERM/SIGINT; False when the server never started (port taken, say)."""
    config = uvicorn.Config(
        app,
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

"""The running service's shared parts, one typed object instead of loose `app.state` attributes.

`create_app` builds it once; routers take it with `Depends(get_runtime)`, and the WebSocket
stream and the draining server read it from the app.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from starlette.requests import HTTPConnection

if TYPE_CHECKING:  # types only: the speech and hotline modules import the turn, which imports deps
    from service.channels.hotline.ivr import AudioSocketServer
    from service.config import Settings
    from service.lookup import Lookup
    from service.ops.metrics import Metrics
    from service.ops.querylog import QueryLog
    from service.ops.ratelimit import FailureBackoff
    from service.speech.gate import SpeechGate, StreamSlots


@dataclass
class Runtime:
    settings: Settings
    lookup: Lookup
    speech_gate: SpeechGate
    stream_slots: StreamSlots
    admin_backoff: FailureBackoff
    metrics: Metrics
    query_log: QueryLog | None
    hotline: AudioSocketServer | None = None  # set once the AudioSocket server listens
    draining: bool = False  # set on SIGTERM: streams end after their current utterance


def get_runtime(connection: HTTPConnection) -> Runtime:
    runtime: Runtime = connection.app.state.runtime
    return runtime

import threading

import anyio
import pytest
from fastapi import HTTPException

from service.speech.gate import SpeechGate


def test_gate_runs_work_in_threads_and_refuses_beyond_the_queue():
    release = threading.Event()
    started = threading.Event()

    def slow() -> str:
        started.set()
        release.wait(10)
        return "done"

    async def scenario() -> tuple[list[str], list[int]]:
        gate = SpeechGate(workers=1, queue_limit=1)
        results: list[str] = []
        refused: list[int] = []

        async def call() -> None:
            try:
                results.append(await gate.run(slow))
            except HTTPException as exc:
                refused.append(exc.status_code)

        async with anyio.create_task_group() as tg:
            tg.start_soon(call)  # runs
            await anyio.to_thread.run_sync(started.wait)
            tg.start_soon(call)  # waits in the queue
            await anyio.sleep(0.05)
            assert gate.busy == 2
            await call()  # queue full: refused at once
            release.set()
        assert gate.busy == 0
        return results, refused

    results, refused = anyio.run(scenario)
    assert results == ["done", "done"]
    assert refused == [503]


def test_gate_passes_errors_through_and_frees_the_slot():
    def boom() -> None:
        raise ValueError("bad audio")

    async def scenario() -> int:
        gate = SpeechGate(workers=1, queue_limit=0)
        with pytest.raises(ValueError):
            await gate.run(boom)
        assert await gate.run(lambda: 7) == 7
        return gate.busy

    assert anyio.run(scenario) == 0

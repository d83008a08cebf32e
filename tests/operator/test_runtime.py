"""The operator's shared state: its threads for blocking calls."""

from __future__ import annotations

import asyncio
import threading

from ark.operator import runtime
from ark.operator.settings import Settings
from tests.conftest import Cluster


def test_short_calls_get_a_thread_while_every_engine_runs(cluster: Cluster) -> None:
    # More engines at once than asyncio's default executor ever has threads (32).
    settings = Settings(
        kubeconfig=cluster.kubeconfig, max_concurrent_backups=20, max_concurrent_restores=20
    )
    engines = settings.max_concurrent_backups + settings.max_concurrent_restores
    release = threading.Event()
    started: list[None] = []

    def engine() -> None:
        started.append(None)
        release.wait(60)

    async def scenario() -> str:
        runtime.start(settings)
        running = [asyncio.create_task(asyncio.to_thread(engine)) for _ in range(engines)]
        try:
            for _ in range(100):
                if len(started) == engines:
                    break
                await asyncio.sleep(0.1)
            assert len(started) == engines, f"{engines - len(started)} engines wait for a thread"
            return await asyncio.wait_for(asyncio.to_thread(lambda: "patched"), timeout=10)
        finally:
            release.set()
            await asyncio.gather(*running)

    assert asyncio.run(scenario()) == "patched"

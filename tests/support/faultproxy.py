"""A TCP proxy on 127.0.0.1 whose failure mode can be switched while it runs.

forward:   pipe bytes both ways to the upstream.
blackhole: accept connections and swallow bytes in both directions, answering nothing (a
           partition: established connections go silent too).
refuse:    stop listening and cut every connection: new connects get ECONNREFUSED.
delay:     forward, but hold each chunk from the client for `delay_s` first (a slow network
           or a slow service, as the client sees it: one request, one chunk, one delay).
lag:       forward, but deliver each chunk from the upstream `delay_s` after it arrived, in
           order and without queueing behind each other (a long link downstream: latency,
           not throughput; e.g. pub/sub messages and PONGs that arrive late).
"""

from __future__ import annotations

import asyncio
import contextlib
from enum import StrEnum
from types import TracebackType


class Mode(StrEnum):
    FORWARD = "forward"
    BLACKHOLE = "blackhole"
    REFUSE = "refuse"
    DELAY = "delay"
    LAG = "lag"


_FORWARDING = frozenset({Mode.FORWARD, Mode.DELAY, Mode.LAG})


class FaultProxy:
    def __init__(self, upstream_host: str, upstream_port: int, *, delay_s: float = 0.0) -> None:
        self._upstream = (upstream_host, upstream_port)
        self.delay_s = delay_s
        self._mode = Mode.FORWARD
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._writers: set[asyncio.StreamWriter] = set()
        self.port = 0

    @property
    def mode(self) -> Mode:
        return self._mode

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def set_mode(self, mode: Mode) -> None:
        previous, self._mode = self._mode, mode
        if mode is Mode.REFUSE and previous is not Mode.REFUSE:
            await self._stop_listening()
            await self._cut_all()
        elif mode is not Mode.REFUSE and previous is Mode.REFUSE:
            await self.start()  # same port: clients reconnect where they were

    async def aclose(self) -> None:
        await self._stop_listening()
        await self._cut_all()

    async def __aenter__(self) -> FaultProxy:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def _stop_listening(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    async def _cut_all(self) -> None:
        for writer in list(self._writers):
            writer.transport.abort()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._writers.clear()

    def _track(self, task: asyncio.Task[None]) -> None:
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        current = asyncio.current_task()
        if current is not None:
            self._track(current)
        self._writers.add(writer)
        upstream_writer: asyncio.StreamWriter | None = None
        try:
            if self._mode in _FORWARDING:
                up_reader, upstream_writer = await asyncio.open_connection(*self._upstream)
                self._writers.add(upstream_writer)
                pump = asyncio.create_task(self._pipe(up_reader, writer))
                self._track(pump)
                await self._pipe(reader, upstream_writer, from_client=True)
                pump.cancel()
            else:
                await self._pipe(reader, None)
        except (OSError, asyncio.IncompleteReadError):
            pass
        finally:
            for w in (writer, upstream_writer):
                if w is not None:
                    self._writers.discard(w)
                    w.transport.abort()

    async def _pipe(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter | None,
        *,
        from_client: bool = False,
    ) -> None:
        if not from_client and writer is not None and self._mode is Mode.LAG:
            await self._lagged(reader, writer)
            return
        with contextlib.suppress(OSError):
            while data := await reader.read(65536):
                if from_client and self._mode is Mode.DELAY and self.delay_s > 0:
                    await asyncio.sleep(self.delay_s)
                # Checked per chunk, so switching to blackhole silences live connections too.
                if writer is not None and self._mode in _FORWARDING:
                    writer.write(data)
                    await writer.drain()

    async def _lagged(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        loop = asyncio.get_running_loop()
        chunks: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()

        async def deliver() -> None:
            with contextlib.suppress(OSError):
                while True:
                    due, data = await chunks.get()
                    await asyncio.sleep(max(0.0, due - loop.time()))
                    if self._mode in _FORWARDING:
                        writer.write(data)
                        await writer.drain()

        delivery = asyncio.create_task(deliver())
        self._track(delivery)
        try:
            with contextlib.suppress(OSError):
                while data := await reader.read(65536):
                    chunks.put_nowait((loop.time() + self.delay_s, data))
        finally:
            delivery.cancel()

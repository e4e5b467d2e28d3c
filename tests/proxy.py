"""A TCP proxy of the tests' own: cuts a process off the database or the broker as a network
partition, or the server restarting, would, then lets it through again on the same port.

Everything runs on one asyncio loop in a background thread; the public methods block until the
loop has done what they ask, so a test can assert right after ``cut()`` that nothing gets through.
"""

import asyncio
import contextlib
import socket
import struct
import threading
from collections.abc import Coroutine
from types import TracebackType
from typing import Any, Self, TypeVar

T = TypeVar("T")
#: SO_LINGER on, zero seconds: close() sends a RST at once instead of a polite FIN.
_RESET_AT_CLOSE = struct.pack("ii", 1, 0)
_CHUNK = 64 * 1024


def _reset(writer: asyncio.StreamWriter) -> None:
    """Drop one connection abruptly: the peer's next read or write fails with a reset."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):  # already gone
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _RESET_AT_CLOSE)
    writer.transport.abort()


class Proxy:
    """Listens on a free loopback port (``port``) and forwards each connection to ``host:target_port``.

    ``cut()`` resets every open connection, both ways, and each new one as soon as it is accepted,
    until ``restore()``; the listening socket stays open, so the port cannot be taken meanwhile."""

    def __init__(self, host: str, target_port: int) -> None:
        self.target = (host, target_port)
        self.port = 0
        self._cut = False
        self._open: set[asyncio.StreamWriter] = set()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name=f"proxy->{target_port}", daemon=True)
        self._server: asyncio.Server | None = None

    def start(self) -> Self:
        self._thread.start()
        self._server = self._call(self._listen())
        self.port = int(self._server.sockets[0].getsockname()[1])
        return self

    def cut(self) -> int:
        """Reset every open connection and refuse new ones; return how many connections were open."""
        return self._call(self._set_cut(True))

    def restore(self) -> None:
        """Forward new connections again (those cut stay cut: clients reconnect, as after a partition)."""
        self._call(self._set_cut(False))

    def close(self) -> None:
        if self._thread.is_alive():
            self._call(self._shutdown())
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)
        self._loop.close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.close()

    def _call(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout=10)

    async def _listen(self) -> asyncio.Server:
        return await asyncio.start_server(self._serve, "127.0.0.1", 0)

    async def _set_cut(self, cut: bool) -> int:
        self._cut = cut
        if not cut:
            return 0
        pairs = len(self._open) // 2
        for writer in list(self._open):
            _reset(writer)
        return pairs

    async def _shutdown(self) -> None:
        assert self._server is not None
        self._server.close()
        await self._set_cut(True)
        # every connection was just reset, so each one's task ends by itself: let them finish
        if tasks := [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]:
            await asyncio.wait(tasks, timeout=5)

    async def _serve(self, client_reader: asyncio.StreamReader, client: asyncio.StreamWriter) -> None:
        if self._cut:
            _reset(client)
            return
        try:
            upstream_reader, upstream = await asyncio.open_connection(*self.target)
        except OSError:  # the target itself is down: the client hears it as a reset
            _reset(client)
            return
        if self._cut:  # cut while connecting
            _reset(client)
            _reset(upstream)
            return
        pair = (client, upstream)
        self._open.update(pair)
        try:
            await asyncio.gather(self._pipe(client_reader, upstream, pair), self._pipe(upstream_reader, client, pair))
        finally:
            self._open.difference_update(pair)
            for writer in pair:
                writer.transport.abort()

    async def _pipe(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, pair: tuple[asyncio.StreamWriter, ...]
    ) -> None:
        """One direction, until its end of file (passed on as a half close); a failure on either
        side resets both, as a broken path would."""
        try:
            while data := await reader.read(_CHUNK):
                writer.write(data)
                await writer.drain()
            if writer.can_write_eof():
                writer.write_eof()
        except OSError:  # ConnectionResetError, BrokenPipeError and kin
            for w in pair:
                _reset(w)

"""Connections into a workspace's own network namespace.

A workspace's ports (code-server on 8080, a dev server on 3000) are never published on the
host: the gateway opens its sockets *inside* the container's network namespace and
connects to 127.0.0.1 there. This works for every network mode (``none`` included) and for
an agent that itself runs in another namespace, and nothing else on the host can reach
those ports. A socket keeps the namespace it was created in, so only the ``socket()`` call
happens in the container's namespace: on one dedicated thread that switches with
``setns(2)`` and back (a namespace switch is per thread; the event loop never moves).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import ctypes
import os
import socket
from typing import Any

import httpcore
import httpx

CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL(None, use_errno=True)
_switcher = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="wws-netns")


def _setns(fd: int) -> None:
    if _libc.setns(fd, CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"setns: {os.strerror(err)}")


def _socket_in(namespace: str) -> socket.socket:
    own = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    try:
        target = os.open(namespace, os.O_RDONLY | os.O_CLOEXEC)
        try:
            _setns(target)
            try:
                sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            finally:
                _setns(own)  # cannot fail with our own namespace's fd and CAP_SYS_ADMIN
        finally:
            os.close(target)
    finally:
        os.close(own)
    sock.setblocking(False)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def of_process(pid: int) -> str:
    return f"/proc/{pid}/ns/net"


async def connect(namespace: str | int, port: int, timeout: float = 10.0, host: str = "127.0.0.1") -> socket.socket:
    """A TCP socket connected to ``host:port`` inside a network namespace: a process's
    (its pid) or a named one (a path such as ``/run/netns/NAME``)."""
    path = of_process(namespace) if isinstance(namespace, int) else namespace
    loop = asyncio.get_running_loop()
    try:
        sock = await loop.run_in_executor(_switcher, _socket_in, path)
    except FileNotFoundError as exc:
        raise ConnectionRefusedError(f"the network namespace {path} is gone") from exc
    try:
        await asyncio.wait_for(loop.sock_connect(sock, (host, port)), timeout)
    except BaseException:
        sock.close()
        raise
    return sock


class _Stream(httpcore.AsyncNetworkStream):
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        try:
            if timeout is None:
                return await self._reader.read(max_bytes)
            return await asyncio.wait_for(self._reader.read(max_bytes), timeout)
        except TimeoutError as exc:
            raise httpcore.ReadTimeout(str(exc)) from exc
        except OSError as exc:
            raise httpcore.ReadError(str(exc)) from exc

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        if not buffer:
            return
        try:
            self._writer.write(buffer)
            if self._writer.transport.get_write_buffer_size() > 0:
                # only a full socket needs waiting for (a wait_for costs a task per write)
                await asyncio.wait_for(self._writer.drain(), timeout)
        except TimeoutError as exc:
            raise httpcore.WriteTimeout(str(exc)) from exc
        except OSError as exc:
            raise httpcore.WriteError(str(exc)) from exc

    async def aclose(self) -> None:
        self._writer.close()
        with contextlib.suppress(OSError):
            await self._writer.wait_closed()

    def get_extra_info(self, info: str) -> Any:
        if info == "socket":
            return self._writer.get_extra_info("socket")
        if info == "is_readable":
            return self._reader.at_eof() or bool(getattr(self._reader, "_buffer", b""))
        return None


class _Backend(httpcore.AsyncNetworkBackend):
    def __init__(self, namespace: str | int, fixed_host: bool) -> None:
        self.namespace = namespace
        self.fixed_host = fixed_host

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Any = None,
    ) -> httpcore.AsyncNetworkStream:
        try:
            sock = await connect(self.namespace, port, timeout or 10.0, "127.0.0.1" if self.fixed_host else host)
        except TimeoutError as exc:
            raise httpcore.ConnectTimeout(str(exc)) from exc
        except OSError as exc:
            raise httpcore.ConnectError(str(exc)) from exc
        reader, writer = await asyncio.open_connection(sock=sock, limit=2**20)
        return _Stream(reader, writer)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


def pool(namespace: str | int, max_connections: int = 32) -> httpcore.AsyncConnectionPool:
    """Keep-alive HTTP/1.1 connections made in a network namespace (see ``NetnsTransport``)."""
    return httpcore.AsyncConnectionPool(
        network_backend=_Backend(namespace, fixed_host=isinstance(namespace, int)),
        max_connections=max_connections,
        keepalive_expiry=30.0,
        http1=True,
        http2=False,
    )


class NetnsTransport(httpx.AsyncHTTPTransport):
    """httpx transport whose connections (kept alive in a pool) are made in a network
    namespace: to 127.0.0.1 in a process's (``pid``: whatever host the URL names, because
    the Host header carries the browser's host), or to the URL's host in a named one."""

    def __init__(self, namespace: str | int, max_connections: int = 32) -> None:
        super().__init__()
        # httpx has no public knob for httpcore's network backend; the pool is the seam
        self._pool = pool(namespace, max_connections)

"""Machines for deployment tests, made on one Linux box: network namespaces on a bridge.

Each host is a network namespace with its own loopback and one address on a private bridge; this machine is the
bridge's gateway. Services that listen on this machine's loopback only (PostgreSQL, Redis) are made reachable from
the hosts by a TCP forwarder on the gateway address. Nothing here touches another interface or the services'
configuration; everything made is removed by ``close``/``stop``, also after a failure half-way.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO


class HostsUnavailable(Exception):
    """This machine cannot make network namespaces (not root, no ``ip``, no kernel support)."""


def _ip(*args: str) -> None:
    result = subprocess.run(["ip", *args], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise HostsUnavailable(f"`ip {' '.join(args)}` failed: {result.stderr.strip()}")


@dataclass(frozen=True)
class Host:
    name: str
    namespace: str
    address: str


class Network:
    """A bridge ``10.213.<subnet>.0/24`` with this machine at ``.1`` and each added host at the next address."""

    def __init__(self, tag: str, subnet: int) -> None:
        self.tag = tag
        self.prefix = f"10.213.{subnet}"
        self.gateway = f"{self.prefix}.1"
        self.bridge = f"nlbr{tag}"
        self.hosts: list[Host] = []
        self._made: list[tuple[str, ...]] = []  # the `ip` arguments that remove what was made, newest last
        try:
            _ip("link", "add", self.bridge, "type", "bridge")
            self._made.append(("link", "del", self.bridge))
            _ip("addr", "add", f"{self.gateway}/24", "dev", self.bridge)
            _ip("link", "set", self.bridge, "up")
        except BaseException:
            self.close()
            raise

    def add_host(self, name: str) -> Host:
        host = Host(name=name, namespace=f"nerlab-{self.tag}-{name}", address=f"{self.prefix}.{len(self.hosts) + 2}")
        outside = f"nl{self.tag}h{len(self.hosts) + 2}"
        _ip("netns", "add", host.namespace)
        self._made.append(("netns", "del", host.namespace))  # removing the namespace removes its veth pair too
        _ip("link", "add", outside, "type", "veth", "peer", "name", "eth0", "netns", host.namespace)
        _ip("link", "set", outside, "master", self.bridge)
        _ip("link", "set", outside, "up")
        _ip("-n", host.namespace, "addr", "add", f"{host.address}/24", "dev", "eth0")
        _ip("-n", host.namespace, "link", "set", "eth0", "up")
        _ip("-n", host.namespace, "link", "set", "lo", "up")
        self.hosts.append(host)
        return host

    def close(self) -> None:
        while self._made:
            with contextlib.suppress(HostsUnavailable):
                _ip(*self._made.pop())


class TcpForwarder:
    """Listens on addresses of this machine and pipes each connection to a target, in a thread of its own."""

    def __init__(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._servers: list[asyncio.Server] = []
        self._thread = threading.Thread(target=self._loop.run_forever, name="tcp-forwarder", daemon=True)
        self._thread.start()

    def forward(self, listen_host: str, target: tuple[str, int]) -> int:
        """Forward ``listen_host:<a free port>`` to ``target``; returns the port."""
        return asyncio.run_coroutine_threadsafe(self._listen(listen_host, target), self._loop).result()

    async def _listen(self, listen_host: str, target: tuple[str, int]) -> int:
        async def accept(client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
            try:
                target_reader, target_writer = await asyncio.open_connection(*target)
            except OSError:
                client_writer.close()
                return
            await asyncio.gather(
                _pipe(client_reader, target_writer), _pipe(target_reader, client_writer), return_exceptions=True
            )

        server = await asyncio.start_server(accept, listen_host, 0)
        self._servers.append(server)
        port: int = server.sockets[0].getsockname()[1]
        return port

    def close(self) -> None:
        async def shut() -> None:
            for server in self._servers:
                server.close()
            for task in asyncio.all_tasks():
                if task is not asyncio.current_task():
                    task.cancel()

        asyncio.run_coroutine_threadsafe(shut(), self._loop).result()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()
        self._loop.close()


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    finally:
        writer.close()


def start(host: Host, argv: Sequence[str], *, env: Mapping[str, str], cwd: Path, log: IO[str]) -> subprocess.Popen[str]:
    """Start ``argv`` on ``host``, in a process group of its own (so ``stop`` ends its children too)."""
    return subprocess.Popen(
        ["ip", "netns", "exec", host.namespace, *argv],
        env=dict(env),
        cwd=cwd,
        stdout=log,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )


def run(host: Host, argv: Sequence[str], *, env: Mapping[str, str], cwd: Path, bound_s: float = 900) -> str:
    """Run ``argv`` on ``host`` to its end; returns its output, or fails with it. ``bound_s`` only stops a command
    that hangs (a service it never reaches), far beyond what any of them takes."""
    try:
        result = subprocess.run(
            ["ip", "netns", "exec", host.namespace, *argv],
            env=dict(env),
            cwd=cwd,
            capture_output=True,
            text=True,
            check=False,
            timeout=bound_s,
        )
    except subprocess.TimeoutExpired as error:
        raise AssertionError(
            f"`{' '.join(argv)}` on {host.name} did not end in {bound_s:.0f} s:\n{error.stderr}"
        ) from None
    if result.returncode != 0:
        raise AssertionError(f"`{' '.join(argv)}` on {host.name} failed ({result.returncode}):\n{result.stderr}")
    return result.stdout


def stop(process: subprocess.Popen[str]) -> None:
    """SIGTERM the process group (a warm shutdown), then SIGKILL it if it is still there after a generous wait."""
    # `ip netns exec` execs the command, so the pid is the command's and leads its own process group.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    with contextlib.suppress(ProcessLookupError):  # children the leader left behind
        os.killpg(process.pid, signal.SIGKILL)

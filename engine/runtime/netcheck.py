"""Network checks made before any work starts: does a Kafka broker answer at an address,
does something listen on a port, can we listen on one.

They exist so a command fails in a few seconds naming the address, instead of waiting
out kafka-python's 30 s bootstrap and ending in a traceback, and so `denialflow run`
refuses a busy web port before it prints anything.
"""

import socket

from kafka import KafkaAdminClient
from kafka.errors import KafkaError

#: A TCP connect to a host that answers takes milliseconds; one that drops packets is given up on.
CONNECT_TIMEOUT_S = 1.0
#: kafka-python's own bootstrap (ApiVersions, metadata) after the TCP connect succeeded.
BOOTSTRAP_TIMEOUT_MS = 1500


def host_port(address: str) -> tuple[str, int]:
    """``host:port`` or ``[v6]:port`` -> (host, port); a missing port is Kafka's 9092."""
    host, sep, port = address.strip().rpartition(":")
    if not sep or not port.isdigit() or host.endswith(":"):
        return address.strip().strip("[]"), 9092
    return host.strip("[]"), int(port)


def port_answers(address: str, timeout: float = CONNECT_TIMEOUT_S) -> bool:
    """Whether something accepts a TCP connection at ``address``."""
    try:
        socket.create_connection(host_port(address), timeout=timeout).close()
    except OSError:
        return False
    return True


def broker_admin(bootstrap_servers: str, request_timeout_ms: int = BOOTSTRAP_TIMEOUT_MS) -> KafkaAdminClient | None:
    """An admin client if a broker answers at ``bootstrap_servers`` within a few seconds; None if none does.

    The TCP connect first: a refused port fails at once, without a Kafka client's retries.
    """
    servers = [s.strip() for s in bootstrap_servers.split(",") if s.strip()]
    if not any(port_answers(s) for s in servers):
        return None
    try:
        return KafkaAdminClient(
            bootstrap_servers=servers, bootstrap_timeout_ms=BOOTSTRAP_TIMEOUT_MS, request_timeout_ms=request_timeout_ms
        )
    except KafkaError:
        return None


def listen_error(host: str, port: int) -> str | None:
    """Why ``host:port`` cannot be listened on (e.g. "Address already in use"), or None if it can.

    SO_REUSEADDR as uvicorn sets it, so a port left in TIME_WAIT counts as free, as it is for the server.
    """
    try:
        with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((host, port))
    except OSError as exc:
        return exc.strerror or str(exc)
    return None

"""Is a Dask scheduler listening at an address? A short handshake that cannot hang or allocate.

Dask's own client trusts its peer: the first eight bytes of any reply are read as a message length
and that much memory is allocated (an HTTP server's ``HTTP/1.0`` reads as 3 EiB), and a peer that
accepts and never answers keeps it waiting. :func:`scheduler_problem` speaks the same protocol on a
plain socket instead (Dask's framing and ``distributed.protocol``'s msgpack encoding), with one
deadline for the whole exchange, a cap on every length it reads, and nothing unpickled: Dask's
handshake, then the ``identity`` call, whose reply names the kind of server.
"""

from __future__ import annotations

import socket
import struct
import time
from typing import Any
from urllib.parse import urlsplit

#: Seconds a ``--scheduler`` address has to complete the handshake and the identity call.
SCHEDULER_CONNECT_SECONDS = 3.0
#: The ports Dask uses unless told otherwise.
SCHEDULER_PORT = 8786
DASHBOARD_PORT = 8787
#: How to get a scheduler (the fix when none answers).
SCHEDULER_FIX = (f"start one (`dask scheduler --port {SCHEDULER_PORT}`, then on each machine "
                 f"`dask worker tcp://HOST:{SCHEDULER_PORT} --nworkers N --nthreads 1`), or leave "
                 "out --scheduler to run on local workers")
#: Seconds a silent address gets to answer a web request (to name a web server as one).
WEB_PROBE_SECONDS = 1.0
#: The longest reply read: a scheduler's identity lists its workers (a few hundred bytes each).
MAX_REPLY_BYTES = 64 * 2**20

#: Dask frames a message as an 8-byte length, then the frame count and lengths, then the frames.
LENGTH = struct.Struct("<Q")


class NotDask(Exception):
    """The peer answered, but not as a Dask server (the reason is the message)."""


def ports_hint(port: int) -> str:
    """What the usual Dask ports are, said about ``port``."""
    if port == DASHBOARD_PORT:
        return (f"{DASHBOARD_PORT} is the Dask dashboard's port; the scheduler is usually "
                f"{SCHEDULER_PORT}")
    return (f"a Dask scheduler usually listens on {SCHEDULER_PORT}, its dashboard on "
            f"{DASHBOARD_PORT}")


def scheduler_problem(address: str, seconds: float | None = None) -> str | None:
    """None when a Dask scheduler answers at ``address`` (``tcp://host:port``) within
    ``seconds`` (:data:`SCHEDULER_CONNECT_SECONDS`); otherwise what was found there, in a
    sentence naming the address.

    ``tls://`` addresses get a connection check only (the handshake needs the certificates);
    other schemes (``inproc://``, ``ucx://``) none."""
    url = urlsplit(address)
    if url.scheme not in ("tcp", "tls"):
        return None
    host, port = url.hostname or "", url.port or 0
    seconds = SCHEDULER_CONNECT_SECONDS if seconds is None else seconds
    deadline = time.monotonic() + seconds
    try:
        sock = socket.create_connection((host, port), timeout=seconds)
    except OSError as exc:
        reason = "timed out" if isinstance(exc, TimeoutError) else (exc.strerror or
                                                                    type(exc).__name__)
        return f"no Dask scheduler answers at {address} within {seconds:g} s ({reason})"
    with sock:
        if url.scheme != "tcp":
            return None
        try:
            exchange(sock, deadline)
            identity = exchange(sock, deadline, {"op": "identity", "reply": True})
        except TimeoutError:
            status = web_status(host, port, min(WEB_PROBE_SECONDS, seconds))
            if status:
                return (f"{address} is a web server (it answers a web request with {status!r}), "
                        f"not a Dask scheduler; {ports_hint(port)}")
            return (f"{address} accepts connections but gave no Dask handshake within "
                    f"{seconds:g} s (nor an answer to a web request): it is not a Dask scheduler; "
                    f"{ports_hint(port)}")
        except NotDask as exc:
            return (f"{address} answers, but not as a Dask scheduler ({exc}); "
                    f"{ports_hint(port)}")
        except OSError as exc:
            return (f"{address} closed the connection during Dask's handshake "
                    f"({exc.strerror or type(exc).__name__}): it is not a Dask scheduler; "
                    f"{ports_hint(port)}")
    kind = identity.get("type") if isinstance(identity, dict) else None
    if "Scheduler" not in str(kind):  # type(scheduler).__name__
        return (f"{address} is a Dask {kind or 'server'}, not a scheduler; "
                f"{ports_hint(port)}")
    return None


def exchange(sock: socket.socket, deadline: float, msg: dict[str, Any] | None = None) -> Any:
    """Send ``msg`` (or this side's handshake) and read one reply before ``deadline``."""
    from distributed.protocol import dumps
    from distributed.protocol.utils import pack_frames

    if msg is None:
        msg = handshake()
    body = pack_frames(dumps(msg))
    sock.settimeout(max(deadline - time.monotonic(), 0.001))
    sock.sendall(LENGTH.pack(len(body)) + body)
    return read_message(sock, deadline)


def handshake() -> dict[str, Any]:
    """What a Dask client says first (its Python and pickle protocol, no compression)."""
    import pickle
    import sys

    return {"compression": None, "python": tuple(sys.version_info)[:3],
            "pickle-protocol": pickle.HIGHEST_PROTOCOL}


def read_message(sock: socket.socket, deadline: float) -> Any:
    """One Dask message from ``sock``, its lengths checked before anything is allocated."""
    from distributed.protocol import loads
    from distributed.protocol.utils import unpack_frames

    head = read_exactly(sock, LENGTH.size, deadline)
    (size,) = LENGTH.unpack(head)
    if not 8 <= size <= MAX_REPLY_BYTES:
        raise NotDask(f"its reply begins {preview(head + peek(sock))}")
    body = read_exactly(sock, size, deadline)
    try:
        frames = unpack_frames(body)
        return loads(frames, deserialize=False)
    except Exception:  # noqa: BLE001  (anything undecodable is not Dask's protocol)
        raise NotDask(f"its reply begins {preview(head + body)}") from None


def read_exactly(sock: socket.socket, n: int, deadline: float) -> bytes:
    """``n`` bytes from ``sock`` before ``deadline`` (TimeoutError), or OSError when it closes."""
    chunks, left = [], n
    while left:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError
        sock.settimeout(remaining)
        try:
            chunk = sock.recv(min(left, 2**20))
        except socket.timeout:
            raise TimeoutError from None
        if not chunk:
            if chunks:
                raise NotDask(f"it sent {preview(b''.join(chunks))} and closed the connection")
            raise ConnectionResetError(0, "closed without a word")
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def peek(sock: socket.socket) -> bytes:
    """Whatever else has arrived (for the message), waiting at most 0.2 s."""
    sock.settimeout(0.2)
    try:
        return sock.recv(64)
    except OSError:
        return b""


def preview(data: bytes) -> str:
    """The start of a foreign reply, readable: its first line when it is text
    (``'SSH-2.0-OpenSSH_9.6'``), else its first bytes."""
    line = data.split(b"\n", 1)[0].rstrip(b"\r")[:60]
    text = line.decode("ascii", "replace")
    if line and text.isprintable():
        return repr(text)
    return repr(data[:16]) + ("..." if len(data) > 16 else "")


def web_status(host: str, port: int, seconds: float) -> str | None:
    """The status line a web server at ``host:port`` answers ``GET /`` with (None: no answer)."""
    try:
        with socket.create_connection((host, port), timeout=seconds) as sock:
            sock.sendall(f"GET / HTTP/1.0\r\nHost: {host}\r\n\r\n".encode())
            reply = sock.recv(256)
    except OSError:
        return None
    line = reply.split(b"\r\n", 1)[0].decode("ascii", "replace")
    return line if line.startswith("HTTP/") else None

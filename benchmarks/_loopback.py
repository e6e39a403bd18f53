"""A loopback HTTP/1.1 server in a child process that discards request bodies.

It answers the token endpoint and any POST with a small ``JobResponse``; bodies are read
(chunked or sized) and thrown away, so the benchmark measures the client side only.
"""

from __future__ import annotations

import multiprocessing
import socket
import socketserver
from collections.abc import Iterator
from contextlib import contextmanager


TOKEN = b'{"access_token":"bench","token_type":"Bearer","expires_in":3600}'
JOB = b'{"StatusCode":"0","Description":"ok","JobId":"1"}'


class _Handler(socketserver.StreamRequestHandler):
    rbufsize = 1 << 20

    def handle(self) -> None:
        while True:
            line = self.rfile.readline()
            if not line:
                return
            headers = {}
            while True:
                h = self.rfile.readline()
                if h in (b"\r\n", b"\n", b""):
                    break
                k, _, v = h.decode("latin-1").partition(":")
                headers[k.strip().lower()] = v.strip()
            if headers.get("transfer-encoding", "").lower() == "chunked":
                while True:
                    size = int(self.rfile.readline().split(b";")[0], 16)
                    if size == 0:
                        self.rfile.readline()
                        break
                    remaining = size + 2
                    while remaining:
                        got = self.rfile.read(min(remaining, 1 << 20))
                        remaining -= len(got)
            else:
                remaining = int(headers.get("content-length", "0"))
                while remaining:
                    got = self.rfile.read(min(remaining, 1 << 20))
                    if not got:
                        return
                    remaining -= len(got)
            body = TOKEN if b"/token" in line else JOB
            self.wfile.write(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
                + str(len(body)).encode()
                + b"\r\n\r\n"
                + body
            )
            self.wfile.flush()


class _Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True


def _serve(port_queue: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    with _Server(("127.0.0.1", 0), _Handler) as server:
        port_queue.put(server.server_address[1])
        server.serve_forever()


@contextmanager
def discard_server() -> Iterator[str]:
    """Run the server in a child process; yield its base URL."""
    queue: multiprocessing.Queue = multiprocessing.Queue()  # type: ignore[type-arg]
    proc = multiprocessing.Process(target=_serve, args=(queue,), daemon=True)
    proc.start()
    try:
        port = queue.get(timeout=10)
        with socket.create_connection(("127.0.0.1", port), timeout=5):
            pass
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.join(5)
        queue.close()

"""A real webhook receiver for the tests: a threaded HTTP server on 127.0.0.1.

Each path behaves as the test says (`receiver.behave("/hook", "500")`): `ok` (204), any status
code, `hang` (answers nothing until released), `close` (drops the connection without an answer),
`redirect` (302 to `/landing`), `big` (a 2 MiB body), `drip` (one byte every 0.2 s). Every request
is kept with its headers and body, and its signature is checked with this module's own Standard
Webhooks verifier, written from the specification without the project's code.
"""

from __future__ import annotations

import base64
import hmac
import http.server
import json
import socket
import threading
import time
from dataclasses import dataclass


def verify(*, secret: str, headers: dict[str, str], body: bytes, tolerance: int = 300) -> bool:
    """Standard Webhooks verification, as a receiver would write it."""
    assert secret.startswith("whsec_")
    key = base64.b64decode(secret.removeprefix("whsec_"))
    msg_id = headers["webhook-id"]
    stamp = headers["webhook-timestamp"]
    if abs(time.time() - int(stamp)) > tolerance:
        return False
    expected = base64.b64encode(
        hmac.new(key, msg_id.encode() + b"." + stamp.encode() + b"." + body, "sha256").digest()
    ).decode()
    for candidate in headers["webhook-signature"].split(" "):
        version, _, value = candidate.partition(",")
        if version == "v1" and hmac.compare_digest(value, expected):
            return True
    return False


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float

    @property
    def id(self) -> str:
        return self.headers["webhook-id"]

    @property
    def json(self) -> dict:
        return json.loads(self.body)


class Receiver:
    def __init__(self, port: int = 0) -> None:
        self.behaviour: dict[str, str] = {}
        self.received: list[Received] = []
        self.lock = threading.Lock()
        self.released = threading.Event()
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # quiet
                pass

            def do_POST(self):
                length = int(self.headers.get("Content-Length", 0))
                body = self.rfile.read(length)
                entry = Received(
                    self.path, {k.lower(): v for k, v in self.headers.items()}, body, time.time()
                )
                with receiver.lock:
                    receiver.received.append(entry)
                    how = receiver.behaviour.get(self.path, "ok")
                receiver.answer(self, how)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True
        # A client that hangs up (timeouts, the body cap) is expected: no traceback on stderr.
        self.server.handle_error = lambda request, client_address: None
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def behave(self, path: str, how: str) -> None:
        with self.lock:
            self.behaviour[path] = how

    def at(self, path: str) -> list[Received]:
        with self.lock:
            return [r for r in self.received if r.path == path]

    def answer(self, handler, how: str) -> None:
        if how == "hang":
            self.released.wait(30)
            how = "500"
        if how == "close":
            handler.connection.shutdown(socket.SHUT_RDWR)
            handler.close_connection = True
            return
        if how == "redirect":
            handler.send_response(302)
            handler.send_header("Location", self.url("/landing"))
            handler.send_header("Content-Length", "0")
            handler.end_headers()
            return
        if how in ("big", "drip"):
            size = 2 * 1024 * 1024 if how == "big" else 50
            handler.send_response(200)
            handler.send_header("Content-Length", str(size))
            handler.end_headers()
            if how == "big":
                handler.wfile.write(b"x" * size)
            else:
                for _ in range(size):
                    handler.wfile.write(b"x")
                    handler.wfile.flush()
                    time.sleep(0.2)
            return
        status = 204 if how == "ok" else int(how)
        payload = b"" if status == 204 else f"answer {status}".encode()
        handler.send_response(status)
        handler.send_header("Content-Length", str(len(payload)))
        handler.end_headers()
        handler.wfile.write(payload)

    def close(self) -> None:
        self.released.set()
        self.server.shutdown()
        self.server.server_close()

"""A real webhook receiver on loopback, and JSON API clients, for the webhook tests."""

import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import time_machine
from django.utils import timezone
from standardwebhooks.webhooks import Webhook

from tests.api_client import ApiClient
from tests.factories import api_key_for


@dataclass
class Received:
    headers: dict
    body: bytes
    status: int  # what the receiver answered
    received_at: datetime
    client_port: int  # one per TCP connection the sender opened

    @property
    def webhook_id(self) -> str:
        return self.headers["webhook-id"]

    def verify(self, secret: str):
        """Verify as a receiver would have at the moment it got the request."""
        with time_machine.travel(self.received_at, tick=False):
            return Webhook(secret).verify(self.body, self.headers)


@dataclass
class Receiver:
    """Answers every POST with `status` (and `body`), or 503 while `down_until` lies ahead.

    HTTP/1.1 with keep-alive, as real receivers run, so that connection reuse by the sender
    is exercised too. Time is read with timezone.now(), so time_machine moves it.
    """

    url: str = ""
    status: int = 204
    body: bytes = b""
    down_until: datetime | None = None
    delay_s: float = 0.0
    requests: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def answer(self) -> tuple[int, bytes]:
        if self.down_until is not None and timezone.now() < self.down_until:
            return 503, b"Service Unavailable"
        return self.status, self.body

    @property
    def ids(self) -> list[str]:
        return [r.webhook_id for r in self.requests]


@pytest.fixture
def hook_receiver():
    receiver = Receiver()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # Status line, headers and body leave in one write, as from most servers.
        wbufsize = 1 << 16

        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            if receiver.delay_s:
                time.sleep(receiver.delay_s)
            status, answer = receiver.answer()
            with receiver.lock:
                receiver.requests.append(Received(
                    headers={k.lower(): v for k, v in self.headers.items()}, body=body,
                    status=status, received_at=timezone.now(),
                    client_port=self.client_address[1]))
            self.send_response(status)
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    receiver.url = f"http://127.0.0.1:{server.server_port}/hooks/leadshare"
    yield receiver
    server.shutdown()
    server.server_close()


@pytest.fixture
def api_read_only(vendor_a):
    _key, secret = api_key_for(vendor_a, read_only=True)
    return ApiClient(secret)

"""The lab's own AWS clients, answered by the local cloud in this process instead of through its socket.

The lab provisions its stack (seventy-odd calls) and runs its EventBridge stand-ins with boto3 clients of the
local cloud. Each request still goes the whole way: botocore serializes and signs it, the local cloud's WSGI app
(the lab's extensions, the Route 53 throttle, the usage meter, then moto) answers it in the AWS wire format, and
botocore parses the answer and raises its errors as from AWS; an app that fails answers 500, as the endpoint's
server does. Only the loopback connection, the server's thread per request and the GIL's hand-overs between the
two threads are skipped. Drillkit's functions, the tests and the CLI still use the endpoint's socket.
"""

from __future__ import annotations

import io
import sys
import threading
import traceback
from collections.abc import Callable, Iterable, Iterator
from typing import Any
from urllib.parse import unquote, urlsplit

import boto3
from botocore.awsrequest import AWSPreparedRequest, AWSResponse, HeadersDict
from werkzeug.test import run_wsgi_app

WsgiApp = Callable[..., Iterable[bytes]]
SERVER_ERROR = b"<!doctype html>\n<title>500 Internal Server Error</title>\n<h1>Internal Server Error</h1>\n"


class _Body:
    """An answer's body as botocore reads it from urllib3: whole (``stream``) or as a file (``read``)."""

    def __init__(self, data: bytes):
        self._data = data
        self._offset = 0

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self.read()

    def read(self, amount: int | None = None) -> bytes:
        end = len(self._data) if amount is None else self._offset + amount
        chunk, self._offset = self._data[self._offset : end], min(end, len(self._data))
        return chunk

    def close(self) -> None:
        self._offset = len(self._data)


def _wsgi_encoding_dance(text: str) -> str:
    """PEP 3333: a WSGI environ's strings carry the request's bytes as latin-1."""
    return text.encode().decode("latin1")


def environ_of(request: AWSPreparedRequest, body: bytes) -> dict[str, Any]:
    """The WSGI environ the endpoint's HTTP server (werkzeug's) makes of this request."""
    url = urlsplit(request.url)
    target = url.path + (f"?{url.query}" if url.query else "")
    environ: dict[str, Any] = {
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": url.scheme,
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
        "REQUEST_METHOD": request.method,
        "SCRIPT_NAME": "",
        "PATH_INFO": _wsgi_encoding_dance(unquote(url.path)),
        "QUERY_STRING": _wsgi_encoding_dance(url.query),
        "REQUEST_URI": _wsgi_encoding_dance(target),
        "RAW_URI": _wsgi_encoding_dance(target),
        "REMOTE_ADDR": "127.0.0.1",
        "SERVER_NAME": url.hostname or "127.0.0.1",
        "SERVER_PORT": str(url.port or 80),
        "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_HOST": url.netloc,
        "CONTENT_LENGTH": str(len(body)),
    }
    for name, value in request.headers.items():
        key = name.upper().replace("-", "_")
        if "_" in name or key in ("CONTENT_LENGTH", "TRANSFER_ENCODING", "HOST"):
            continue  # the body is whole here: its length is the one above
        text = value.decode() if isinstance(value, bytes) else str(value)
        environ[key if key == "CONTENT_TYPE" else f"HTTP_{key}"] = text
    return environ


def answer(app: WsgiApp, request: AWSPreparedRequest) -> AWSResponse:
    """Hand a signed request to the WSGI app, as the endpoint's HTTP server would; its answer as botocore's."""
    body = request.body
    if hasattr(body, "read"):
        body = body.read()
    if isinstance(body, str):
        body = body.encode()
    try:
        app_iter, status, response_headers = run_wsgi_app(app, environ_of(request, body or b""), buffered=True)
        try:
            data = b"".join(app_iter)
        finally:
            if hasattr(app_iter, "close"):
                app_iter.close()
    except Exception:  # noqa: BLE001 what the endpoint's server does with an app that fails: log it, answer 500
        traceback.print_exc()
        return AWSResponse(request.url, 500, HeadersDict({"Content-Type": "text/html; charset=utf-8"}), _Body(SERVER_ERROR))
    return AWSResponse(request.url, int(status.split(" ", 1)[0]), HeadersDict(response_headers.to_wsgi_list()), _Body(data))


class InProcessSession:
    """A boto3 session whose clients' requests go to the local cloud's WSGI app in this process.

    Clients are created once per service, region and configuration and shared (botocore clients are thread-safe;
    sessions are not, hence the lock): each client costs its service model's setup, which is what many of the
    lab's calls used to pay again.
    """

    def __init__(self, session: boto3.session.Session, endpoint: str, app: WsgiApp):
        self._session = session
        self._endpoint = endpoint
        self._app = app
        self._clients: dict[tuple[str, str | None, int], Any] = {}
        self._configs: list[Any] = []  # the configurations keyed by id() stay alive with their clients
        self._lock = threading.Lock()

    def client(self, service: str, region_name: str | None = None, config: Any = None) -> Any:
        key = (service, region_name, id(config))
        with self._lock:
            if key not in self._clients:
                created = self._session.client(service, region_name=region_name, config=config, endpoint_url=self._endpoint)
                created.meta.events.register("before-send", self._send)
                self._clients[key] = created
                self._configs.append(config)
            return self._clients[key]

    def _send(self, request: AWSPreparedRequest, **_: Any) -> AWSResponse:
        return answer(self._app, request)

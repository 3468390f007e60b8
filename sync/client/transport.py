"""HTTP for the client, on the standard library."""
from __future__ import annotations

import json
import socket
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass


class TransportError(Exception):
    """No usable answer: the network failed, or the connection was cut."""


@dataclass
class Answer:
    status: int
    headers: dict
    body: dict


class HttpTransport:
    def __init__(self, base_url: str, token: str | None = None, timeout: float = 60):
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.timeout = timeout

    def _send(self, request: urllib.request.Request) -> Answer:
        request.add_header("Accept", "application/json")
        if self.token:
            request.add_header("Authorization", f"Bearer {self.token}")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return Answer(response.status, dict(response.headers), _json(response.read()))
        except urllib.error.HTTPError as error:
            return Answer(error.code, dict(error.headers or {}), _json(error.read()))
        except (urllib.error.URLError, ConnectionError, socket.timeout, TimeoutError,
                OSError) as error:
            raise TransportError(str(error)) from error
        except ValueError as error:  # a cut-off body that is not JSON
            raise TransportError(f"unreadable answer: {error}") from error

    def post_json(self, path: str, body: dict) -> Answer:
        data = json.dumps(body, ensure_ascii=False).encode()
        return self._send(urllib.request.Request(
            self.base_url + path, data=data, method="POST",
            headers={"Content-Type": "application/json"}))

    def get_json(self, path: str, params: dict) -> Answer:
        query = urllib.parse.urlencode({k: v for k, v in params.items() if v is not None})
        return self._send(urllib.request.Request(
            self.base_url + path + (f"?{query}" if query else ""), method="GET"))


def _json(raw: bytes) -> dict:
    if not raw:
        return {}
    data = json.loads(raw)
    if not isinstance(data, dict):
        raise ValueError("answer is not a JSON object")
    return data

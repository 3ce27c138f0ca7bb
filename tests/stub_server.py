"""A scriptable HTTP server that speaks the Anthropic and OpenAI wire formats, for tests.

The real `anthropic` and `openai` SDK clients talk to it over HTTP on 127.0.0.1 (random port):
Anthropic Messages (JSON and SSE streaming) and `GET /v1/models/{id}`, OpenAI Responses, Chat
Completions and `GET /v1/models`. It records every request (path, headers, JSON body) and can be
scripted per route: `enqueue()` replies (a status code, a body, raw garbage bytes, a delay), set
a latency for every request, model capabilities, and whether Chat Completions honours `n`.
The batch endpoints (Anthropic Message Batches, the OpenAI Batch API and its files) live in
stub_batches.py, reached as `stub.batches`. `reply_text` makes answers a function of the request
(the same for a synchronous call and a batch item). Unscripted requests get a plausible default
answer; one that asks for token log-probabilities
(Chat Completions `logprobs`, Responses `top_logprobs` with the logprobs `include`) gets
`STUB_LOGPROBS` for each of its tokens. It imports nothing from vaultttc.

Use the `stub` fixture (`from stub_server import stub_fixture` in a test module or conftest) or
`StubServer` directly; `python tests/stub_server.py LATENCY [--stable]` serves one in its own
process (`GET /_stub/count` answers how many requests it has recorded and the peak in flight;
`--stable` answers with `stable_text`).
"""

from __future__ import annotations

import hashlib
import itertools
import json
import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from stub_batches import StubBatches

__all__ = [
    "STUB_LOGPROBS",
    "Recorded",
    "Reply",
    "StubServer",
    "full_capabilities",
    "stub_fixture",
    "to_sse",
]

Json = dict[str, Any]
ROUTES = ("messages", "models", "responses", "chat")
# the top log-probabilities the stub gives every token it was asked about: the sampled token
# first (DeepConf's token confidence of these is 2.0)
STUB_LOGPROBS = (-0.5, -1.5, -4.0)


@dataclass(frozen=True, slots=True)
class Reply:
    """One scripted answer. `body` replaces the default JSON; `raw` sends bytes as they are."""

    status: int = 200
    body: Json | None = None
    raw: bytes | None = None
    delay: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: Json | None
    at: float = field(default_factory=time.monotonic)  # when it arrived

    @property
    def route(self) -> str:
        return _route(self.method, self.path)


def _route(method: str, path: str) -> str:
    path = path.split("?")[0]
    if "/batches" in path or "/files" in path:
        return "batches"
    if path.endswith("/messages"):
        return "messages"
    if path.endswith("/responses"):
        return "responses"
    if path.endswith("/chat/completions"):
        return "chat"
    if "/models" in path:
        return "models"
    return "unknown"


def full_capabilities() -> Json:
    """Anthropic `ModelCapabilities` with everything supported (tests switch parts off)."""
    yes = {"supported": True}
    return {
        "batch": yes,
        "citations": yes,
        "code_execution": yes,
        "context_management": {"supported": True},
        "effort": {
            "supported": True,
            "low": yes,
            "medium": yes,
            "high": yes,
            "max": yes,
            "xhigh": yes,
        },
        "image_input": yes,
        "pdf_input": yes,
        "server_tools": {"supported": True},
        "structured_outputs": yes,
        "thinking": {
            "supported": True,
            "types": {"adaptive": yes, "between_tools": yes, "disabled": yes, "enabled": yes},
        },
    }


class StubServer:
    """The server and its script. Thread-safe; the handler runs one thread per connection."""

    def __init__(self) -> None:
        self.latency = 0.0
        self.honour_n = True
        self.model_caps: dict[str, Json] = {}
        self.model_max_tokens = 64_000
        self.requests: list[Recorded] = []
        self.in_flight = 0
        self.peak_in_flight = 0
        self._queues: dict[str, deque[Reply | Callable[[Json], Reply]]] = defaultdict(deque)
        self._lock = threading.Lock()
        self._counter = itertools.count()
        self._warm: dict[str, float] = {}
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.stub = self
        self.batches = StubBatches(self._batch_item, lambda: self.url)
        # (route, request body) -> the answer's text; None keeps "stub answer N"
        self.reply_text: Callable[[str, Json], str] | None = None
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.02,), daemon=True
        )

    @property
    def url(self) -> str:
        """Base URL for the Anthropic SDK (it appends `/v1/...` itself)."""
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def openai_url(self) -> str:
        """Base URL for the OpenAI SDK and OpenAI-compatible servers (ends in `/v1`)."""
        return self.url + "/v1"

    def start(self) -> StubServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def enqueue(self, route: str, *replies: Reply | Callable[[Json], Reply]) -> None:
        """Script the next replies of `route` ("messages", "models", "responses", "chat")."""
        if route not in ROUTES:
            raise ValueError(f"unknown route {route!r}; one of {ROUTES}")
        with self._lock:
            self._queues[route].extend(replies)

    def count(self, route: str | None = None) -> int:
        with self._lock:
            return sum(1 for r in self.requests if route is None or r.route == route)

    def bodies(self, route: str) -> list[Json]:
        with self._lock:
            return [r.body or {} for r in self.requests if r.route == route]

    def reset(self) -> None:
        with self._lock:
            self.requests.clear()
            self._queues.clear()
            self.peak_in_flight = self.in_flight
            self._warm.clear()

    # -- what the handler calls -------------------------------------------------------------

    def _enter(self, delta: int) -> None:
        with self._lock:
            self.in_flight += delta
            self.peak_in_flight = max(self.peak_in_flight, self.in_flight)

    def _record(self, recorded: Recorded) -> Reply | Callable[[Json], Reply] | None:
        with self._lock:
            self.requests.append(recorded)
            queue = self._queues.get(recorded.route)
            return queue.popleft() if queue else None

    def answer(self, recorded: Recorded) -> tuple[Reply, bool]:
        """The reply for one request and whether to send it as server-sent events."""
        scripted = self._record(recorded)
        body = recorded.body or {}
        reply = scripted(body) if callable(scripted) else scripted
        stream = bool(body.get("stream"))
        if reply is None:
            reply = Reply(body=self._default(recorded, body))
        elif reply.status == 200 and reply.body is None and reply.raw is None:
            reply = Reply(
                body=self._default(recorded, body), delay=reply.delay, headers=reply.headers
            )
        return reply, stream

    def _batch_item(self, route: str, body: Json) -> Json:
        """What the synchronous endpoint would answer to one batch item's params or body."""
        path = "/v1/messages" if route == "messages" else "/v1/responses"
        return self._default(Recorded("POST", path, {}, body), body)

    def _default(self, recorded: Recorded, body: Json) -> Json:
        reply = self._built(recorded, body)
        if self.reply_text is None or recorded.route not in ("messages", "responses"):
            return reply
        return retext(reply, self.reply_text(recorded.route, body))

    def _built(self, recorded: Recorded, body: Json) -> Json:
        n = next(self._counter)
        route = recorded.route
        if route == "models":
            return self._model(recorded.path)
        if route == "messages":
            return self._message(body, n)
        if route == "responses":
            return _response(body, n)
        return self._chat(body, n)

    def _model(self, path: str) -> Json:
        model_id = path.rstrip("/").rsplit("/", 1)[-1]
        if model_id == "models":
            return {
                "object": "list",
                "data": [{"id": "stub-model", "object": "model", "created": 0, "owned_by": "stub"}],
            }
        return {
            "id": model_id,
            "type": "model",
            "display_name": model_id,
            "created_at": "2026-01-01T00:00:00Z",
            "lifecycle": "active",
            "max_tokens": self.model_max_tokens,
            "max_input_tokens": 1_000_000,
            "capabilities": self.model_caps.get(model_id, full_capabilities()),
        }

    def _message(self, body: Json, n: int) -> Json:
        prompt_tokens = max(1, len(json.dumps(body.get("messages", []))) // 4)
        usage: Json = {
            "input_tokens": prompt_tokens,
            "output_tokens": 12,
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 0,
        }
        if _has_cache_control(body):
            key = hashlib.sha256(
                json.dumps(
                    [body.get("model"), body.get("system"), body.get("messages")], sort_keys=True
                ).encode()
            ).hexdigest()
            # the prefix is cached once the first request that wrote it has been answered
            now = time.monotonic()
            with self._lock:
                hit = self._warm.get(key, now + 1) <= now
                self._warm.setdefault(key, now + self.latency)
            usage["cache_read_input_tokens" if hit else "cache_creation_input_tokens"] = (
                prompt_tokens
            )
            usage["input_tokens"] = 3
        content: list[Json] = []
        thinking = (body.get("thinking") or {}).get("type") in ("enabled", "adaptive")
        if thinking:
            content.append(
                {"type": "thinking", "thinking": f"stub thinking {n}", "signature": "sig"}
            )
            usage["output_tokens"] += 5
            usage["output_tokens_details"] = {"thinking_tokens": 5}
        content.append({"type": "text", "text": f"stub answer {n}"})
        return {
            "id": f"msg_{n}",
            "type": "message",
            "role": "assistant",
            "model": body.get("model", "stub"),
            "content": content,
            "stop_reason": "end_turn",
            "stop_sequence": None,
            "usage": usage,
        }

    def _chat(self, body: Json, n: int) -> Json:
        k = int(body.get("n") or 1) if self.honour_n else 1
        top = int(body.get("top_logprobs") or 1)
        choices = [
            {
                "index": i,
                "finish_reason": "stop",
                "logprobs": {"content": _token_logprobs(f"stub choice {n}.{i}", top)}
                if body.get("logprobs")
                else None,
                "message": {"role": "assistant", "content": f"stub choice {n}.{i}"},
            }
            for i in range(k)
        ]
        prompt_tokens = max(1, len(json.dumps(body.get("messages", []))) // 4)
        return {
            "id": f"chatcmpl-{n}",
            "object": "chat.completion",
            "created": 0,
            "model": body.get("model", "stub"),
            "choices": choices,
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": 7 * k,
                "total_tokens": prompt_tokens + 7 * k,
            },
        }


def chat_body(text: str) -> Json:
    """A Chat Completions reply whose one choice says `text` (for scripted answers)."""
    return {
        "id": "chatcmpl-w", "object": "chat.completion", "created": 0, "model": "stub-model",
        "choices": [{"index": 0, "finish_reason": "stop", "logprobs": None,
                     "message": {"role": "assistant", "content": text}}],
        "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
    }  # fmt: skip


def _token_logprobs(text: str, top: int) -> list[Json]:
    """Chat Completions / Responses per-token logprob entries for `text`, one per word."""
    alternatives = [
        {"token": f"t{j}", "logprob": value, "bytes": None}
        for j, value in enumerate(STUB_LOGPROBS[:top])
    ]
    return [
        {"token": word, "logprob": STUB_LOGPROBS[0], "bytes": None, "top_logprobs": alternatives}
        for word in text.split()
    ]


def retext(reply: Json, text: str) -> Json:
    """A Messages or Responses reply whose answer text is `text` (thinking left as it was)."""
    for block in reply.get("content", []):
        if block.get("type") == "text":
            block["text"] = text
    for item in reply.get("output", []):
        for part in item.get("content", []) if item.get("type") == "message" else []:
            part["text"] = text
    return reply


def _has_cache_control(body: Json) -> bool:
    return "cache_control" in json.dumps(body)


def _response(body: Json, n: int) -> Json:
    output: list[Json] = []
    reasoning = 0
    if body.get("reasoning"):
        reasoning = 9
        output.append(
            {
                "id": f"rs_{n}",
                "type": "reasoning",
                "summary": [{"type": "summary_text", "text": f"stub reasoning {n}"}],
            }
        )
    output.append(
        {
            "id": f"msg_{n}",
            "type": "message",
            "role": "assistant",
            "status": "completed",
            "content": [
                {
                    "type": "output_text",
                    "text": f"stub response {n}",
                    "annotations": [],
                    "logprobs": _token_logprobs(f"stub response {n}", int(body["top_logprobs"]))
                    if body.get("top_logprobs")
                    and "message.output_text.logprobs" in (body.get("include") or ())
                    else [],
                }
            ],
        }
    )
    return {
        "id": f"resp_{n}",
        "object": "response",
        "created_at": 0,
        "status": "completed",
        "model": body.get("model", "stub"),
        "output": output,
        "parallel_tool_calls": False,
        "tool_choice": "auto",
        "tools": [],
        "usage": {
            "input_tokens": 20,
            "output_tokens": 6 + reasoning,
            "total_tokens": 26 + reasoning,
            "input_tokens_details": {"cached_tokens": 4, "cache_write_tokens": 0},
            "output_tokens_details": {"reasoning_tokens": reasoning},
        },
    }


def to_sse(message: Json) -> bytes:
    """An Anthropic message as the event stream the Messages API would send."""
    events: list[tuple[str, Json]] = []
    usage = dict(message["usage"])
    start = {**message, "content": [], "stop_reason": None, "usage": {**usage, "output_tokens": 1}}
    start["usage"].pop("output_tokens_details", None)
    events.append(("message_start", {"type": "message_start", "message": start}))
    for i, block in enumerate(message["content"]):
        events.extend(_block_events(i, block))
    delta_usage = {"output_tokens": usage["output_tokens"]}
    if "output_tokens_details" in usage:
        delta_usage["output_tokens_details"] = usage["output_tokens_details"]
    events.append(
        (
            "message_delta",
            {
                "type": "message_delta",
                "usage": delta_usage,
                "delta": {"stop_reason": message["stop_reason"], "stop_sequence": None},
            },
        )
    )
    events.append(("message_stop", {"type": "message_stop"}))
    return b"".join(f"event: {e}\ndata: {json.dumps(d)}\n\n".encode() for e, d in events)


def _block_events(i: int, block: Json) -> Iterator[tuple[str, Json]]:
    if block["type"] == "thinking":
        empty: Json = {"type": "thinking", "thinking": "", "signature": ""}
        deltas: list[Json] = [
            {"type": "thinking_delta", "thinking": block["thinking"]},
            {"type": "signature_delta", "signature": block["signature"]},
        ]
    else:
        empty = {"type": "text", "text": ""}
        deltas = [{"type": "text_delta", "text": block["text"]}]
    yield "content_block_start", {"type": "content_block_start", "index": i, "content_block": empty}
    for delta in deltas:
        yield "content_block_delta", {"type": "content_block_delta", "index": i, "delta": delta}
    yield "content_block_stop", {"type": "content_block_stop", "index": i}


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # the default backlog of 5 stalls 16 concurrent connects; a client at a 256-request limit
    # connects hundreds at once (a full backlog costs a 1 s SYN retry)
    request_queue_size = 1024
    stub: StubServer


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        return

    def do_GET(self) -> None:
        if self.path == "/_stub/count":  # for a stub in another process (bench/)
            stub = self.server.stub
            payload = json.dumps(
                {"count": stub.count(), "peak_in_flight": stub.peak_in_flight}
            ).encode()
            self._send(Reply(), payload, "application/json")
            return
        if _route(self.command, self.path) == "batches":
            self._serve_batches(b"")
            return
        self._serve(None)

    def do_POST(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(length) if length else b""
        if _route(self.command, self.path) == "batches":  # multipart uploads are not JSON
            self._serve_batches(raw)
            return
        try:
            body = json.loads(raw) if raw else None
        except json.JSONDecodeError:
            body = None
        self._serve(body)

    def _serve_batches(self, raw: bytes) -> None:
        stub = self.server.stub
        headers = {k.lower(): v for k, v in self.headers.items()}
        try:
            body = json.loads(raw) if raw else None
        except (json.JSONDecodeError, UnicodeDecodeError):
            body = None
        stub._record(Recorded(self.command, self.path, headers, body))
        time.sleep(stub.latency)
        done = stub.batches.handle(self.command, self.path, headers=headers, raw=raw)
        self._send(Reply(status=done.status), done.payload, done.kind)

    def _serve(self, body: Json | None) -> None:
        stub = self.server.stub
        headers = {k.lower(): v for k, v in self.headers.items()}
        stub._enter(+1)
        try:
            reply, stream = stub.answer(Recorded(self.command, self.path, headers, body))
            time.sleep(stub.latency + reply.delay)
        finally:
            stub._enter(-1)
        if reply.raw is not None:
            payload = reply.raw
            kind = "text/event-stream" if stream else "application/json"
        elif reply.status != 200:
            payload = json.dumps(reply.body or _error(reply.status)).encode()
            kind = "application/json"
        elif stream and reply.body is not None:
            payload, kind = to_sse(reply.body), "text/event-stream"
        else:
            payload, kind = json.dumps(reply.body).encode(), "application/json"
        self._send(reply, payload, kind)

    def _send(self, reply: Reply, payload: bytes, kind: str) -> None:
        try:
            self.send_response(reply.status)
            self.send_header("content-type", kind)
            self.send_header("content-length", str(len(payload)))
            for key, value in reply.headers.items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (a timeout test); nothing to tell it


def _error(status: int) -> Json:
    kinds = {
        429: "rate_limit_error",
        500: "api_error",
        529: "overloaded_error",
        400: "invalid_request_error",
        401: "authentication_error",
    }
    kind = kinds.get(status, "api_error")
    return {"type": "error", "error": {"type": kind, "message": f"stub {kind} ({status})"}}


def stable_text(route: str, body: Json) -> str:
    """An answer that depends only on what was asked: the same for every sample of a prompt,
    for a synchronous call and for a batch item."""
    asked = json.dumps(body.get("messages") or body.get("input"), sort_keys=True)
    return f"The answer is: {int(hashlib.sha256(asked.encode()).hexdigest()[:4], 16) % 100}"


def serve_forever(latency: float, *, stable: bool = False) -> None:
    """Run a stub in this process until killed, printing its base URL (used by bench/);
    `stable` answers with `stable_text`."""
    server = StubServer()
    server.latency = latency
    if stable:
        server.reply_text = stable_text
    print(server.url, flush=True)
    server._server.serve_forever(0.05)


@pytest.fixture(name="stub")
def stub_fixture() -> Iterator[StubServer]:
    """A running stub server for one test: `from stub_server import stub_fixture`."""
    server = StubServer().start()
    try:
        yield server
    finally:
        server.stop()


if __name__ == "__main__":
    import sys

    latency = float(sys.argv[1]) if len(sys.argv) > 1 else 0.0
    serve_forever(latency, stable="--stable" in sys.argv[2:])

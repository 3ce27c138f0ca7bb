"""The stub server's batch endpoints: Anthropic Message Batches and the OpenAI Batch API.

Implemented the way the services document them, so the real SDK clients can drive them:

* Anthropic: `POST /v1/messages/batches` (`{"requests": [{"custom_id", "params"}]}`),
  `GET /v1/messages/batches/{id}` (`processing_status` in_progress → ended, `request_counts`,
  `results_url` once ended) and `GET {results_url}` (JSONL, one `{"custom_id", "result"}` a
  line, `result.type` succeeded / errored / canceled / expired).
* OpenAI: `POST /v1/files` (multipart, `purpose=batch`, a JSONL of `{"custom_id", "method",
  "url", "body"}`), `POST /v1/batches`, `GET /v1/batches/{id}` (validating → in_progress →
  completed, or expired / cancelled when items did not run), `GET /v1/files/{id}/content`
  (the output file: one `{"id", "custom_id", "response": {"status_code", "body"}, "error"}`
  a line; the error file: failed and expired items).

Each item is answered by the stub's own Messages / Responses logic (so a batch answers what
the synchronous endpoint would) without counting as a request of that route. Results come
back in reverse order: callers must match them by `custom_id`. `polls_to_end` says how many
`retrieve` calls see the batch still in progress (0: it has ended at the first); `fail` picks
items that error, expire or are cancelled. Validation follows the documented limits (custom_id
shape and uniqueness; 100,000 requests or 256 MB for Anthropic, 50,000 requests or 200 MB per
file for OpenAI). It imports nothing from vaultttc.
"""

from __future__ import annotations

import itertools
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import HTTP
from typing import Any

__all__ = ["ANTHROPIC_LIMITS", "OPENAI_LIMITS", "BatchReply", "StubBatches"]

Json = dict[str, Any]
ANTHROPIC_LIMITS = (100_000, 256 * 1024 * 1024)
OPENAI_LIMITS = (50_000, 200 * 1024 * 1024)
_CUSTOM_ID_CHARS = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-")
_CREATED = "2026-01-01T00:00:00Z"
Answer = Callable[[str, Json], Json]  # (route, request body) -> the reply body


@dataclass(frozen=True, slots=True)
class BatchReply:
    status: int
    payload: bytes
    kind: str = "application/json"


@dataclass
class _Batch:
    id: str
    vendor: str  # "anthropic" or "openai"
    items: list[tuple[str, Json]]  # (custom_id, params or body)
    polls: int = 0
    results: list[tuple[str, str, Json | None]] | None = None  # (custom_id, outcome, reply)
    files: dict[str, str] = field(default_factory=dict)  # "output"/"error" -> file id


class StubBatches:
    """Batches held by one stub server. Thread-safe."""

    def __init__(self, answer: Answer, base_url: Callable[[], str]) -> None:
        self.polls_to_end = 0
        self.fail: Callable[[Json], str | None] = lambda params: None
        self.created: list[str] = []  # batch ids, in creation order
        self.sizes: list[int] = []  # requests per created batch
        self._answer, self._base_url = answer, base_url
        self._batches: dict[str, _Batch] = {}
        self._files: dict[str, tuple[str, bytes]] = {}  # id -> (purpose, content)
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    def handle(self, method: str, path: str, *, headers: dict[str, str], raw: bytes) -> BatchReply:
        path = path.split("?")[0].rstrip("/")
        parts = path.split("/")[2:]  # without "", "v1"
        with self._lock:
            if parts[:2] == ["messages", "batches"]:
                return self._anthropic(method, parts[2:], raw)
            if parts[:1] == ["files"]:
                return self._file(method, parts[1:], headers=headers, raw=raw)
            if parts[:1] == ["batches"]:
                return self._openai(method, parts[1:], raw)
        return _error(404, "not_found_error", f"no route {method} {path}")

    # -- Anthropic ------------------------------------------------------------------------------

    def _anthropic(self, method: str, rest: list[str], raw: bytes) -> BatchReply:
        if method == "POST" and not rest:
            return self._anthropic_create(json.loads(raw or b"{}"))
        batch = self._batches.get(rest[0]) if rest else None
        if batch is None or batch.vendor != "anthropic":
            return _error(404, "not_found_error", "no such message batch")
        if method == "GET" and len(rest) == 1:
            batch.polls += 1
            return _json(self._anthropic_view(batch))
        if method == "GET" and rest[1:] == ["results"]:
            if batch.results is None:
                return _error(400, "invalid_request_error", "the batch is still processing")
            lines = [_anthropic_line(c, outcome, reply) for c, outcome, reply in batch.results]
            return BatchReply(200, _jsonl(lines), "application/binary")
        return _error(404, "not_found_error", "no such route")

    def _anthropic_create(self, body: Json) -> BatchReply:
        requests = body.get("requests")
        if not isinstance(requests, list) or not requests:
            return _error(400, "invalid_request_error", "requests: a non-empty list is required")
        items = [(str(r.get("custom_id", "")), r.get("params") or {}) for r in requests]
        problem = _check_items(items, ANTHROPIC_LIMITS, size=len(json.dumps(body)))
        if problem is None and any("stream" in params for _, params in items):
            problem = "params.stream is not supported in a batch"
        if problem is not None:
            return _error(400, "invalid_request_error", problem)
        batch = self._new("msgbatch", "anthropic", items)
        return _json(self._anthropic_view(batch))

    def _anthropic_view(self, batch: _Batch) -> Json:
        ended = self._maybe_end(batch, "messages")
        counts = {"processing": len(batch.items), "succeeded": 0, "errored": 0, "canceled": 0,
                  "expired": 0}  # fmt: skip
        if ended and batch.results is not None:
            counts["processing"] = 0
            for _, outcome, _ in batch.results:
                counts[outcome] += 1
        return {
            "id": batch.id, "type": "message_batch", "created_at": _CREATED,
            "expires_at": "2026-01-02T00:00:00Z", "archived_at": None, "cancel_initiated_at": None,
            "ended_at": _CREATED if ended else None,
            "processing_status": "ended" if ended else "in_progress", "request_counts": counts,
            "results_url": f"{self._base_url()}/v1/messages/batches/{batch.id}/results"
            if ended else None,
        }  # fmt: skip

    # -- OpenAI ---------------------------------------------------------------------------------

    def _file(
        self, method: str, rest: list[str], *, headers: dict[str, str], raw: bytes
    ) -> BatchReply:
        if method == "POST" and not rest:
            fields = _multipart(headers.get("content-type", ""), raw)
            purpose, content = fields.get("purpose", b"").decode(), fields.get("file")
            if content is None or not purpose:
                return _error(400, "invalid_request_error", "file and purpose are required")
            file_id = f"file-{next(self._ids)}"
            self._files[file_id] = (purpose, content)
            return _json(_file_view(file_id, purpose, content))
        found = self._files.get(rest[0]) if rest else None
        if found is None:
            return _error(404, "invalid_request_error", "no such file")
        if method == "GET" and rest[1:] == ["content"]:
            return BatchReply(200, found[1], "application/octet-stream")
        return _json(_file_view(rest[0], *found))

    def _openai(self, method: str, rest: list[str], raw: bytes) -> BatchReply:
        if method == "POST" and not rest:
            return self._openai_create(json.loads(raw or b"{}"))
        batch = self._batches.get(rest[0]) if rest else None
        if batch is None or batch.vendor != "openai":
            return _error(404, "invalid_request_error", "no such batch")
        batch.polls += 1
        return _json(self._openai_view(batch))

    def _openai_create(self, body: Json) -> BatchReply:
        file = self._files.get(str(body.get("input_file_id")))
        endpoint = body.get("endpoint")
        if file is None or file[0] != "batch":
            return _error(400, "invalid_request_error", "input_file_id: upload with purpose=batch")
        if endpoint != "/v1/responses" or body.get("completion_window") != "24h":
            return _error(400, "invalid_request_error", "endpoint or completion_window invalid")
        lines = [json.loads(line) for line in file[1].decode().splitlines() if line.strip()]
        if any(line.get("method") != "POST" or line.get("url") != endpoint for line in lines):
            return _error(400, "invalid_request_error", "every line must POST to the endpoint")
        items = [(str(line.get("custom_id", "")), line.get("body") or {}) for line in lines]
        problem = _check_items(items, OPENAI_LIMITS, size=len(file[1]), id_shape=False)
        if problem is not None:
            return _error(400, "invalid_request_error", problem)
        batch = self._new("batch", "openai", items)
        return _json(self._openai_view(batch, input_file_id=str(body["input_file_id"])))

    def _openai_view(self, batch: _Batch, *, input_file_id: str = "file-in") -> Json:
        ended = self._maybe_end(batch, "responses")
        status, failed, done = "in_progress" if batch.polls else "validating", 0, 0
        if ended and batch.results is not None:
            outcomes = {outcome for _, outcome, _ in batch.results}
            failed = sum(o != "succeeded" for _, o, _ in batch.results)
            done = len(batch.results) - failed
            status = "expired" if "expired" in outcomes else "completed"
            status = "cancelled" if "canceled" in outcomes else status
            self._write_openai_files(batch)
        return {
            "id": batch.id, "object": "batch", "endpoint": "/v1/responses", "errors": None,
            "input_file_id": input_file_id, "completion_window": "24h", "status": status,
            "output_file_id": batch.files.get("output"), "error_file_id": batch.files.get("error"),
            "created_at": 0, "completed_at": 1 if ended else None,
            "request_counts": {"total": len(batch.items), "completed": done, "failed": failed},
            "metadata": None,
        }  # fmt: skip

    def _write_openai_files(self, batch: _Batch) -> None:
        if batch.files or batch.results is None:
            return
        out, err = [], []
        for n, (custom_id, outcome, reply) in enumerate(batch.results):
            line = _openai_line(custom_id, outcome, reply, line_id=f"batch_req_{n}")
            (out if outcome == "succeeded" else err).append(line)
        for name, lines in (("output", out), ("error", err)):
            if lines:
                file_id = f"file-{next(self._ids)}"
                self._files[file_id] = (f"batch_{name}", _jsonl(lines))
                batch.files[name] = file_id

    # -- shared ---------------------------------------------------------------------------------

    def _new(self, prefix: str, vendor: str, items: list[tuple[str, Json]]) -> _Batch:
        batch = _Batch(f"{prefix}_{next(self._ids):04d}", vendor, items)
        self._batches[batch.id] = batch
        self.created.append(batch.id)
        self.sizes.append(len(items))
        return batch

    def _maybe_end(self, batch: _Batch, route: str) -> bool:
        if batch.results is None and batch.polls > self.polls_to_end:
            results = []
            for custom_id, params in batch.items:
                outcome = self.fail(params) or "succeeded"
                reply = self._answer(route, params) if outcome == "succeeded" else None
                results.append((custom_id, outcome, reply))
            batch.results = results[::-1]  # unordered, as the services say: match by custom_id
        return batch.results is not None


def _check_items(
    items: list[tuple[str, Json]], limits: tuple[int, int], *, size: int, id_shape: bool = True
) -> str | None:
    count, max_bytes = limits
    ids = [custom_id for custom_id, _ in items]
    if len(items) > count or size > max_bytes:
        return f"a batch holds at most {count} requests and {max_bytes} bytes"
    if len(set(ids)) != len(ids):
        return "custom_id values must be unique within a batch"
    if id_shape and any(not 0 < len(i) <= 64 or set(i) - _CUSTOM_ID_CHARS for i in ids):
        return "custom_id must match ^[a-zA-Z0-9_-]{1,64}$"
    return None


def _anthropic_line(custom_id: str, outcome: str, reply: Json | None) -> Json:
    if outcome == "succeeded":
        return {"custom_id": custom_id, "result": {"type": "succeeded", "message": reply}}
    if outcome == "errored":
        error = {"type": "error", "error": {"type": "api_error", "message": "stub item error"}}
        return {"custom_id": custom_id, "result": {"type": "errored", "error": error}}
    return {"custom_id": custom_id, "result": {"type": outcome}}


def _openai_line(custom_id: str, outcome: str, reply: Json | None, *, line_id: str) -> Json:
    if outcome == "succeeded":
        response = {"status_code": 200, "request_id": f"req_{line_id}", "body": reply}
        return {"id": line_id, "custom_id": custom_id, "response": response, "error": None}
    if outcome == "errored":
        body = {"error": {"message": "stub item error", "type": "server_error"}}
        response = {"status_code": 500, "request_id": f"req_{line_id}", "body": body}
        return {"id": line_id, "custom_id": custom_id, "response": response, "error": None}
    code = "batch_expired" if outcome == "expired" else "batch_cancelled"
    error = {"code": code, "message": f"the request was not run: {outcome}"}
    return {"id": line_id, "custom_id": custom_id, "response": None, "error": error}


def _file_view(file_id: str, purpose: str, content: bytes) -> Json:
    return {"id": file_id, "object": "file", "bytes": len(content), "created_at": 0,
            "filename": "batch.jsonl", "purpose": purpose, "status": "processed"}  # fmt: skip


def _multipart(content_type: str, raw: bytes) -> dict[str, bytes]:
    """The fields of a multipart/form-data body, by name."""
    head = f"Content-Type: {content_type}\r\n\r\n".encode()
    message = BytesParser(policy=HTTP).parsebytes(head + raw)
    fields: dict[str, bytes] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True)
        if isinstance(name, str) and isinstance(payload, bytes):
            fields[name] = payload
    return fields


def _jsonl(lines: list[Json]) -> bytes:
    return b"".join(json.dumps(line).encode() + b"\n" for line in lines)


def _json(body: Json) -> BatchReply:
    return BatchReply(200, json.dumps(body).encode())


def _error(status: int, kind: str, message: str) -> BatchReply:
    body = {"type": "error", "error": {"type": kind, "message": message}}
    return BatchReply(status, json.dumps(body).encode())

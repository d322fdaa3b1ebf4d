"""The loopback server's batch API, in OpenAI's format: files upload and content,
batches create / retrieve / cancel / list. `llm_server.LLMTestServer` mounts it.

A batch's lines are answered exactly as ``POST /v1/chat/completions`` would answer
their bodies (the same markers apply, so ``[[status=400]]`` fails one line), but only
when the batch is retrieved at least `BatchConfig.delay_s` after it was created: until
then it is ``in_progress``. Successful lines go to the output file, failed ones to the
error file, as OpenAI does. `BatchConfig.expire_next` makes the next N batches created
end ``expired`` with only their first `expire_done` lines answered (the rest in the
error file with code ``batch_expired``). A batch with more lines than `max_requests`,
or an input file over `max_bytes`, is refused with a 400, like a provider's limits.

Counters (`BatchStats`): files uploaded, batches created, lines submitted (and per
prompt), retrievals, cancels; `GET /_stats` includes them.
"""

from __future__ import annotations

import itertools
import json
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aiohttp import web

if TYPE_CHECKING:
    from llm_server import LLMTestServer


@dataclass
class BatchConfig:
    delay_s: float = 0.0  # a batch completes this long after it was created
    expire_next: int = 0  # the next N batches created expire
    expire_done: int = 0  # lines an expiring batch answers before it expires
    max_requests: int = 50_000  # lines per batch, as OpenAI's limit
    max_bytes: int = 200 * 1024 * 1024  # input file size


@dataclass
class BatchStats:
    uploads: int = 0
    submissions: int = 0  # batches created
    lines: int = 0  # lines in the batches created
    line_prompts: Counter[str] = field(default_factory=Counter)  # last user message -> lines
    retrievals: int = 0
    downloads: int = 0  # file contents read
    cancels: int = 0
    refused: int = 0  # batches refused for a provider limit

    def as_json(self) -> dict[str, Any]:
        return {"uploads": self.uploads, "submissions": self.submissions, "lines": self.lines,
                "retrievals": self.retrievals, "downloads": self.downloads,
                "cancels": self.cancels}  # fmt: skip


@dataclass
class _Batch:
    id: str
    input_file_id: str
    created: float  # time.monotonic()
    created_at: int  # unix seconds
    metadata: dict[str, Any]
    expires: bool
    status: str = "validating"
    output_file_id: str | None = None
    error_file_id: str | None = None
    completed: int = 0
    failed: int = 0
    total: int = 0
    finished_at: int | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id, "object": "batch", "endpoint": "/v1/chat/completions",
            "errors": None, "input_file_id": self.input_file_id, "completion_window": "24h",
            "status": self.status, "output_file_id": self.output_file_id,
            "error_file_id": self.error_file_id, "created_at": self.created_at,
            "in_progress_at": self.created_at, "expires_at": self.created_at + 86400,
            "completed_at": self.finished_at if self.status == "completed" else None,
            "expired_at": self.finished_at if self.status == "expired" else None,
            "cancelled_at": self.finished_at if self.status == "cancelled" else None,
            "request_counts": {"total": self.total, "completed": self.completed,
                               "failed": self.failed},
            "metadata": self.metadata,
        }  # fmt: skip


class BatchEndpoints:
    """Files and batches, kept in memory; `server` answers each line."""

    def __init__(self, server: LLMTestServer) -> None:
        self.server = server
        self.config = BatchConfig()
        self.stats = BatchStats()
        self.files: dict[str, bytes] = {}
        self.batches: dict[str, _Batch] = {}
        self._ids = itertools.count(1)

    def reset(self) -> None:
        """Forget files, batches and counts, and restore the default settings."""
        self.config = BatchConfig()
        self.stats = BatchStats()
        self.files.clear()
        self.batches.clear()

    def routes(self, app: web.Application) -> None:
        for prefix in ("/v1", ""):
            app.router.add_post(f"{prefix}/files", self.upload)
            app.router.add_get(f"{prefix}/files/{{file_id}}", self.file_info)
            app.router.add_get(f"{prefix}/files/{{file_id}}/content", self.file_content)
            app.router.add_post(f"{prefix}/batches", self.create)
            app.router.add_get(f"{prefix}/batches", self.list)
            app.router.add_get(f"{prefix}/batches/{{batch_id}}", self.retrieve)
            app.router.add_post(f"{prefix}/batches/{{batch_id}}/cancel", self.cancel)

    def _new_id(self, prefix: str) -> str:
        return f"{prefix}-{next(self._ids):06d}"

    def _file_json(self, file_id: str, purpose: str = "batch") -> dict[str, Any]:
        return {"id": file_id, "object": "file", "bytes": len(self.files[file_id]),
                "created_at": int(time.time()), "filename": f"{file_id}.jsonl",
                "purpose": purpose, "status": "processed"}  # fmt: skip

    async def upload(self, request: web.Request) -> web.Response:
        form = await request.post()
        upload = form.get("file")
        data = upload.file.read() if hasattr(upload, "file") else str(upload or "").encode()
        with self.server._lock:
            file_id = self._new_id("file")
            self.files[file_id] = data
            self.stats.uploads += 1
        return web.json_response(self._file_json(file_id, str(form.get("purpose") or "batch")))

    async def file_info(self, request: web.Request) -> web.Response:
        file_id = request.match_info["file_id"]
        if file_id not in self.files:
            return _not_found(f"no file {file_id}")
        return web.json_response(self._file_json(file_id))

    async def file_content(self, request: web.Request) -> web.Response:
        file_id = request.match_info["file_id"]
        if file_id not in self.files:
            return _not_found(f"no file {file_id}")
        with self.server._lock:
            self.stats.downloads += 1
        return web.Response(body=self.files[file_id], content_type="application/octet-stream")

    async def create(self, request: web.Request) -> web.Response:
        body = await request.json()
        data = self.files.get(body.get("input_file_id", ""))
        if data is None:
            return _not_found(f"no file {body.get('input_file_id')}")
        lines = [json.loads(line) for line in data.splitlines() if line.strip()]
        too_big = len(data) > self.config.max_bytes or len(lines) > self.config.max_requests
        with self.server._lock:
            if too_big:
                self.stats.refused += 1
                error = {"error": {"message": "batch over the provider's limits",
                                   "type": "invalid_request_error"}}  # fmt: skip
                return web.json_response(error, status=400)
            expires = self.config.expire_next > 0
            self.config.expire_next -= int(expires)
            batch = _Batch(self._new_id("batch"), body["input_file_id"], time.monotonic(),
                           int(time.time()), dict(body.get("metadata") or {}), expires,
                           status="in_progress", total=len(lines))  # fmt: skip
            self.batches[batch.id] = batch
            self.stats.submissions += 1
            self.stats.lines += len(lines)
            for line in lines:
                messages = line.get("body", {}).get("messages", [])
                self.stats.line_prompts[_last_user(messages)] += 1
        return web.json_response(batch.as_json())

    async def retrieve(self, request: web.Request) -> web.Response:
        batch = self.batches.get(request.match_info["batch_id"])
        if batch is None:
            return _not_found("no such batch")
        with self.server._lock:
            self.stats.retrievals += 1
        if (
            batch.status == "in_progress"
            and time.monotonic() - batch.created >= self.config.delay_s
        ):
            self._finish(batch)
        return web.json_response(batch.as_json())

    async def cancel(self, request: web.Request) -> web.Response:
        batch = self.batches.get(request.match_info["batch_id"])
        if batch is None:
            return _not_found("no such batch")
        with self.server._lock:
            self.stats.cancels += 1
        if batch.status == "in_progress":
            batch.status, batch.finished_at = "cancelled", int(time.time())
        return web.json_response(batch.as_json())

    async def list(self, request: web.Request) -> web.Response:
        data = [b.as_json() for b in reversed(self.batches.values())]
        after = request.query.get("after")
        if after:
            ids = [b["id"] for b in data]
            data = data[ids.index(after) + 1 :] if after in ids else []
        limit = int(request.query.get("limit") or 20)
        page = data[:limit]
        return web.json_response({"object": "list", "data": page,
                                  "first_id": page[0]["id"] if page else None,
                                  "last_id": page[-1]["id"] if page else None,
                                  "has_more": len(data) > limit})  # fmt: skip

    def _finish(self, batch: _Batch) -> None:
        """Answer the batch's lines as the chat endpoint would; write its files."""
        lines = [json.loads(line) for line in self.files[batch.input_file_id].splitlines()
                 if line.strip()]  # fmt: skip
        output, errors = [], []
        for index, line in enumerate(lines):
            if batch.expires and index >= self.config.expire_done:
                error = {"code": "batch_expired", "message": "This request could not be "
                         "executed before the completion window expired."}  # fmt: skip
                errors.append({"id": f"req-{index}", "custom_id": line["custom_id"],
                               "response": None, "error": error})  # fmt: skip
                continue
            status, answer = self.server.answer_line(line["body"])
            row = {"id": f"req-{index}", "custom_id": line["custom_id"], "error": None,
                   "response": {"status_code": status, "request_id": f"r{index}",
                                "body": answer}}  # fmt: skip
            (output if status == 200 else errors).append(row)
        batch.completed, batch.failed = len(output), len(errors)
        if output:
            batch.output_file_id = self._store_lines(output)
        if errors:
            batch.error_file_id = self._store_lines(errors)
        batch.status = "expired" if batch.expires else "completed"
        batch.finished_at = int(time.time())

    def _store_lines(self, rows: list[dict[str, Any]]) -> str:
        file_id = self._new_id("file")
        self.files[file_id] = "".join(json.dumps(row) + "\n" for row in rows).encode()
        return file_id


def _last_user(messages: list[dict[str, Any]]) -> str:
    for message in reversed(messages):
        if message.get("role") == "user":
            return str(message.get("content"))
    return ""


def _not_found(message: str) -> web.Response:
    return web.json_response({"error": {"message": message, "type": "not_found"}}, status=404)

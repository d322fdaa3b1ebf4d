"""Provider batch APIs: a model alias with `batch:` has its cache misses sent as lines
of OpenAI-format batches (`/v1/files` + `/v1/batches`, through litellm's file and batch
functions) instead of one request each, at the provider's batch price.

Each line's `custom_id` is the call's key and its body is the one a direct call posts,
so an answer lands in the same cache entry either way: turning `batch:` on or off never
pays twice. Which batches are out, and which keys each carries, is written to the
ledger (`.synthc/<recipe>/batches.json`) before the provider is asked and again once it
answered, so a build that is killed or run with `--no-wait` never submits a call twice:
the next build polls the batches in the ledger, collects the finished ones (answers to
the cache, failed lines to `_failures`) and submits only the calls no batch carries,
among them the lines of batches that expired or were cancelled. A submission the
provider may have received but not confirmed is found again by the id synthc put in
the batch's metadata.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from synthc.llm.calls import FATAL, CallRequest, CallResult
from synthc.llm.transport import (
    CallFailure,
    Outcome,
    Transports,
    classify,
    completion_outcome,
    status_failure,
)

if TYPE_CHECKING:
    from synthc.llm.models import ModelSpec
    from synthc.progress import Reporter

PENDING = "pending"  # the error kind of a call still waiting in a batch (`--no-wait`)
LEDGER_FILE = "batches.json"
LEDGER_VERSION = 1
TERMINAL = frozenset({"completed", "failed", "expired", "cancelled"})
ENDPOINT = "/v1/chat/completions"
METADATA_KEY = "synthc_submission"
LIST_PAGES = 10  # of 100 batches: how far back an unconfirmed submission is looked for
PROGRESS_EVERY_S = 30.0  # progress lines while waiting, unless the counts moved
# Per call: litellm's logging otherwise downloads a finished batch's output itself to
# price it (a second download, and ~7 ms of pydantic work per line); synthc prices lines.
QUIET_POLL = {"batch_ignore_default_logging": True}


@dataclass(frozen=True)
class BatchSettings:
    """An alias's `batch:` settings (see the schema's `batch` definition)."""

    max_requests: int = 50_000
    max_bytes: int = 200_000_000
    poll_s: float = 30.0
    completion_window: str = "24h"
    resubmit: int = 2

    @classmethod
    def of(cls, config: Mapping[str, Any] | None) -> BatchSettings:
        known = cls.__dataclass_fields__
        return cls(**{k: v for k, v in (config or {}).items() if k in known})


@dataclass
class BatchRecord:
    """One submitted batch in the ledger: which calls it carries and what the budget
    holds for them. `id` is the provider's, None until the provider confirmed it."""

    submission: str  # synthc's id, sent as the batch's metadata
    model: str  # the alias as written
    step: str
    keys: list[str]
    submitted_at: str
    id: str | None = None
    reserved_tokens: int = 0
    reserved_usd: float = 0.0

    @property
    def label(self) -> str:
        return self.id or f"submission {self.submission}"


class BatchLedger:
    """The batches out at providers: a JSON file written whole through `write` (the
    store's atomic writer), or kept in memory when no path is given."""

    def __init__(
        self, path: Path | None = None, write: Callable[[Path, str], None] | None = None
    ) -> None:
        self.path = path
        self._write = write
        self._memory: list[BatchRecord] = []

    def load(self) -> list[BatchRecord]:
        if self.path is None:
            return list(self._memory)
        return read_ledger(self.path)

    def save(self, records: Sequence[BatchRecord]) -> None:
        if self.path is None or self._write is None:
            self._memory = list(records)
            return
        payload = {"synthc_batches": LEDGER_VERSION, "batches": [asdict(r) for r in records]}
        self._write(self.path, json.dumps(payload, indent=1, sort_keys=True) + "\n")


def read_ledger(path: Path) -> list[BatchRecord]:
    """The batches a ledger file lists ([] when there is none)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return []
    except (OSError, ValueError) as exc:
        from synthc.errors import StoreError

        raise StoreError(f"{path}: cannot read the batch ledger ({exc})") from exc
    return [BatchRecord(**record) for record in data.get("batches", [])]


def holdings(records: Sequence[BatchRecord]) -> dict[str, float]:
    """What the budget holds for the batches `records` lists: lines, tokens, dollars."""
    return {
        "calls": float(sum(len(record.keys) for record in records)),
        "tokens": float(sum(record.reserved_tokens for record in records)),
        "usd": sum(record.reserved_usd for record in records),
    }


def pending_calls(records: Sequence[BatchRecord]) -> dict[str, str]:
    """Call key -> the batch carrying it."""
    return {key: record.label for record in records for key in record.keys}


class BatchGateway(Protocol):
    """What the runner needs of the client (`LLMClient`)."""

    def resolve(self, name: str) -> ModelSpec: ...
    def params_for(self, request: CallRequest) -> dict[str, Any]: ...
    def reserve_batch(
        self, step: str, request: CallRequest, spec: ModelSpec, transports: Transports
    ) -> tuple[int, float] | CallFailure: ...
    def settle_batch(self, tokens: int, usd: float, used_tokens: int, used_usd: float) -> None: ...
    def release_batch(self, lines: int, tokens: int, usd: float) -> None: ...
    def answered(self, key: str, request: CallRequest, spec: ModelSpec, outcome: Outcome,
                 cost: float | None, batch_id: str | None = None) -> CallResult: ...  # fmt: skip


@dataclass
class BatchRunner:
    """Answers one step's batched misses: submit, poll, collect (see the module doc)."""

    gateway: BatchGateway
    transports: Transports
    ledger: BatchLedger
    step: str
    wait: bool = True
    reporter: Reporter | None = None
    results: dict[str, CallResult] = field(default_factory=dict)
    _resent: Counter[str] = field(default_factory=Counter)
    _progress: tuple[Any, float] = ((), 0.0)

    async def run(self, pending: Mapping[str, CallRequest]) -> dict[str, CallResult]:
        """A result for every key of `pending`: answered, failed, or (without `wait`)
        `PENDING` while its batch runs."""
        records = self.ledger.load()
        while True:
            records = await self._recover(records, pending)
            carried = pending_calls(records)
            fresh = {k: r for k, r in pending.items() if k not in carried and k not in self.results}
            if fresh:
                records = await self._submit(fresh, records)
            mine = [r for r in records if any(k in pending for k in r.keys)]
            if not mine:
                return self.results
            # Batches of these models that no call needs any more are collected too: their
            # answers are paid for, and the ledger should not keep them forever.
            models = {r.model for r in pending.values()}
            confirmed = [
                r for r in records if r.id is not None and (r in mine or r.model in models)
            ]
            records = await self._poll(records, confirmed, pending)
            out = [
                r for r in records if any(k in pending and k not in self.results for k in r.keys)
            ]
            if not out:
                continue  # all collected; the lines of expired batches are submitted again
            if not self.wait:
                for record in out:
                    model = self.gateway.resolve(record.model).model
                    for key in record.keys:
                        if key in pending:
                            self.results[key] = _pending(key, pending[key], model, record.label)
                return self.results
            await asyncio.sleep(min(self._settings(r.model).poll_s for r in out))

    def _settings(self, model: str) -> BatchSettings:
        return BatchSettings.of(self.gateway.resolve(model).batch)

    # --- submitting -------------------------------------------------------------------

    async def _submit(
        self, fresh: Mapping[str, CallRequest], records: list[BatchRecord]
    ) -> list[BatchRecord]:
        by_model: dict[str, list[tuple[str, CallRequest]]] = {}
        for key, request in fresh.items():
            by_model.setdefault(request.model, []).append((key, request))
        for model, calls in by_model.items():
            spec = self.gateway.resolve(model)
            lines = []
            for key, request in calls:
                line = self._line(key, request, spec)
                if line is not None:
                    lines.append(line)
            for chunk in _chunks(lines, self._settings(model)):
                records = await self._submit_one(spec, chunk, records, fresh)
        return records

    def _line(
        self, key: str, request: CallRequest, spec: ModelSpec
    ) -> tuple[str, bytes, tuple[int, float]] | None:
        """A batch line for the call, with the budget reserved for it; None (and a
        failed result) when the budget or the model refuses it."""
        try:
            body = self.transports.batch_body(
                spec, request.messages, self.gateway.params_for(request)
            )
        except CallFailure as failure:
            self.results[key] = _failed(key, request, spec, failure, 0)
            return None
        reserved = self.gateway.reserve_batch(self.step, request, spec, self.transports)
        if isinstance(reserved, CallFailure):
            self.results[key] = _failed(key, request, spec, reserved, 0)
            return None
        line = {"custom_id": key, "method": "POST", "url": ENDPOINT, "body": body}
        return key, (json.dumps(line, ensure_ascii=False) + "\n").encode(), reserved

    async def _submit_one(
        self,
        spec: ModelSpec,
        chunk: list[tuple[str, bytes, tuple[int, float]]],
        records: list[BatchRecord],
        requests: Mapping[str, CallRequest],
    ) -> list[BatchRecord]:
        """Upload one file and create its batch; the ledger names the calls before the
        provider is asked and the batch id once it answered."""
        litellm = self.transports.litellm()
        access = self.transports.batch_access(spec)
        record = BatchRecord(
            uuid.uuid4().hex, spec.name, self.step, [key for key, _, _ in chunk], _now(),
            reserved_tokens=sum(r[0] for _, _, r in chunk),
            reserved_usd=sum(r[1] for _, _, r in chunk),
        )  # fmt: skip
        records = [*records, record]
        self.ledger.save(records)
        try:
            data = b"".join(line for _, line, _ in chunk)
            uploaded = await litellm.acreate_file(
                file=(f"synthc-{record.submission}.jsonl", data), purpose="batch", **access
            )
            batch = await litellm.acreate_batch(
                completion_window=self._settings(spec.name).completion_window, endpoint=ENDPOINT,
                input_file_id=uploaded.id, metadata={METADATA_KEY: record.submission}, **access,
            )  # fmt: skip
        except Exception as exc:
            failure = classify(exc, litellm)
            if failure.kind != FATAL:  # the provider may have it: found again by its metadata
                return records
            records = [r for r in records if r is not record]
            self.ledger.save(records)
            failure.message = f"batch not submitted: {failure.message}"
            self.gateway.release_batch(len(chunk), record.reserved_tokens, record.reserved_usd)
            for key, _, _ in chunk:
                self.results[key] = _failed(key, requests[key], spec, failure, 0)
            return records
        record.id = str(batch.id)
        self.ledger.save(records)
        self._say(
            f"{self.step}: {len(chunk)} call(s) to {spec.name} submitted in batch {record.id}"
        )
        return records

    async def _recover(
        self, records: list[BatchRecord], pending: Mapping[str, CallRequest]
    ) -> list[BatchRecord]:
        """Give unconfirmed submissions their provider id, found by the metadata synthc
        sent; a submission the provider never received is dropped (its calls are free
        to be sent again)."""
        models = {r.model for r in pending.values()}
        unconfirmed = [r for r in records if r.id is None and r.model in models]
        for model in dict.fromkeys(r.model for r in unconfirmed):
            ids = await self._submissions(self.gateway.resolve(model))
            if ids is None:
                continue  # asked again on the next poll
            for record in (r for r in unconfirmed if r.model == model):
                record.id = ids.get(record.submission)
                if record.id is None:  # never received: its calls may go again, a few times
                    self.gateway.release_batch(
                        len(record.keys), record.reserved_tokens, record.reserved_usd
                    )
                    self._give_up(record, pending, "the provider never confirmed the batch")
            records = [r for r in records if r.id is not None or r.model != model]
            self.ledger.save(records)
        return records

    async def _submissions(self, spec: ModelSpec) -> dict[str, str] | None:
        """synthc submission id -> batch id of the provider's recent batches (up to
        `LIST_PAGES` pages of 100), or None when the provider could not be asked."""
        litellm = self.transports.litellm()
        access = self.transports.batch_access(spec)
        found: dict[str, str] = {}
        after: dict[str, str] = {}
        for _ in range(LIST_PAGES):
            try:
                page = await litellm.alist_batches(limit=100, **after, **access)
            except Exception:
                return None
            for batch in page.data:
                submission = (batch.metadata or {}).get(METADATA_KEY)
                if submission:
                    found[str(submission)] = str(batch.id)
            if not getattr(page, "has_more", False) or not page.data:
                break
            after = {"after": str(page.data[-1].id)}
        return found

    def _give_up(self, record: BatchRecord, pending: Mapping[str, CallRequest], why: str) -> None:
        """Count another round for the record's unanswered calls; those past the
        `resubmit` setting fail with `why`."""
        spec = self.gateway.resolve(record.model)
        for key in record.keys:
            if key not in pending or key in self.results:
                continue
            self._resent[key] += 1
            if self._resent[key] > self._settings(record.model).resubmit:
                failure = CallFailure(FATAL, "BatchFailed", why)
                self.results[key] = _failed(key, pending[key], spec, failure, 1)

    # --- collecting -------------------------------------------------------------------

    async def _poll(
        self,
        records: list[BatchRecord],
        live: list[BatchRecord],
        pending: Mapping[str, CallRequest],
    ) -> list[BatchRecord]:
        """Ask after each live batch; collect the finished ones and drop them from the
        ledger (after their answers are in the cache)."""
        litellm = self.transports.litellm()
        progress: list[tuple[str, int, int]] = []
        for record in live:
            spec = self.gateway.resolve(record.model)
            access = self.transports.batch_access(spec)
            try:
                batch = await litellm.aretrieve_batch(
                    batch_id=record.id, litellm_metadata=QUIET_POLL, **access
                )
            except Exception as exc:
                if classify(exc, litellm).kind == FATAL:  # the provider does not know it
                    records = [r for r in records if r is not record]
                    self.ledger.save(records)
                continue
            if batch.status not in TERMINAL:
                counts = batch.request_counts
                done = (counts.completed + counts.failed) if counts is not None else 0
                progress.append((str(record.id), done, len(record.keys)))
                continue
            await self._collect(record, batch, spec, pending)
            records = [r for r in records if r is not record]
            self.ledger.save(records)
        self._report_progress(progress)
        return records

    async def _collect(
        self, record: BatchRecord, batch: Any, spec: ModelSpec, pending: Mapping[str, CallRequest]
    ) -> None:
        litellm = self.transports.litellm()
        access = self.transports.batch_access(spec)
        latency = _seconds(batch.created_at, batch.completed_at or batch.expired_at)
        carried = set(record.keys)
        answered: set[str] = set()
        used_tokens, used_usd = 0, 0.0
        for file_id in (batch.output_file_id, batch.error_file_id):
            if not file_id:
                continue
            content = await litellm.afile_content(file_id=file_id, **access)
            for row in _json_lines(content.content):
                key = row.get("custom_id")
                if key not in carried or _expired_line(row):
                    continue
                answered.add(key)
                request = pending.get(key) or CallRequest(record.model, [])
                result = self._line_result(key, request, spec, row, str(record.id))
                used_tokens += result.prompt_tokens + result.completion_tokens
                used_usd += result.cost_usd or 0.0
                if key in pending:
                    self.results[key] = dataclasses.replace(result, latency_s=latency)
        self.gateway.settle_batch(
            record.reserved_tokens, record.reserved_usd, used_tokens, used_usd
        )
        done = [key for key in answered if key in pending]
        if self.reporter is not None and done:
            self.reporter.advance(self.step, len(done))
        why = f"batch {record.id} {batch.status}" + _batch_errors(batch)
        if batch.status == "failed":  # refused as a whole: its lines fail, the next build retries
            for key in carried - answered:
                if key in pending:
                    failure = CallFailure(FATAL, "BatchFailed", why)
                    self.results[key] = _failed(key, pending[key], spec, failure, 1)
        self._give_up(record, pending, why)
        if batch.status != "completed":
            self._say(f"{self.step}: {why}; {len(answered)} of {len(carried)} line(s) answered")

    def _line_result(
        self, key: str, request: CallRequest, spec: ModelSpec, row: Mapping[str, Any], batch_id: str
    ) -> CallResult:
        """One output or error line as the result a direct call would have given."""
        response = row.get("response") or {}
        status = response.get("status_code")
        body = response.get("body")
        try:
            if status != 200:
                error = row.get("error") or {}
                if status is None:
                    raise CallFailure(FATAL, str(error.get("code") or "BatchLineFailed"),
                                      str(error.get("message") or error))  # fmt: skip
                raise status_failure(int(status), None, json.dumps(body).encode())
            outcome = completion_outcome(body)
        except CallFailure as failure:
            failure.message = f"batch {batch_id}: {failure.message}"
            return dataclasses.replace(_failed(key, request, spec, failure, 1), batch_id=batch_id)
        cost = self.transports.batch_cost(spec, outcome.prompt_tokens, outcome.completion_tokens)
        return self.gateway.answered(key, request, spec, outcome, cost, batch_id)

    # --- progress ---------------------------------------------------------------------

    def _report_progress(self, progress: list[tuple[str, int, int]]) -> None:
        if not progress or not self.wait:
            return
        counts = tuple(progress)
        last, at = self._progress
        now = time.monotonic()
        if counts == last and now - at < PROGRESS_EVERY_S:
            return
        self._progress = (counts, now)
        done = sum(d for _, d, _ in progress)
        total = sum(t for _, _, t in progress)
        ids = ", ".join(b for b, _, _ in progress[:3]) + (", ..." if len(progress) > 3 else "")
        self._say(f"{self.step}: waiting for {len(progress)} batch(es) ({ids}): "
                  f"{done} of {total} line(s) done")  # fmt: skip

    def _say(self, text: str) -> None:
        if self.reporter is not None:
            self.reporter.message(text)


def _chunks(
    lines: list[tuple[str, bytes, tuple[int, float]]], settings: BatchSettings
) -> Iterator[list[tuple[str, bytes, tuple[int, float]]]]:
    """Lines in batches of at most `max_requests` lines and `max_bytes` bytes."""
    chunk: list[tuple[str, bytes, tuple[int, float]]] = []
    size = 0
    for line in lines:
        full = len(chunk) >= settings.max_requests or size + len(line[1]) > settings.max_bytes
        if chunk and full:
            yield chunk
            chunk, size = [], 0
        chunk.append(line)
        size += len(line[1])
    if chunk:
        yield chunk


def _json_lines(content: bytes) -> Iterator[dict[str, Any]]:
    for line in content.splitlines():
        if line.strip():
            try:
                row = json.loads(line)
            except ValueError:
                continue
            if isinstance(row, dict):
                yield row


def _expired_line(row: Mapping[str, Any]) -> bool:
    """A line the provider never ran (its batch expired or was cancelled first)."""
    error = row.get("error") or {}
    return not row.get("response") and error.get("code") in ("batch_expired", "batch_cancelled")


def _batch_errors(batch: Any) -> str:
    errors = getattr(getattr(batch, "errors", None), "data", None) or []
    messages = [str(getattr(e, "message", e)) for e in errors[:3]]
    return f" ({'; '.join(messages)})" if messages else ""


def _seconds(start: int | None, end: int | None) -> float:
    return float(end - start) if start and end else 0.0


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _failed(
    key: str, request: CallRequest | None, spec: ModelSpec, failure: CallFailure, attempts: int
) -> CallResult:
    return CallResult(key, request.row_id if request else "", spec.model, None,
                      attempts=attempts, error=failure.message,
                      error_class=failure.error_class, error_kind=failure.kind)  # fmt: skip


def _pending(key: str, request: CallRequest, model: str, batch: str) -> CallResult:
    return CallResult(key, request.row_id, model, None, error=f"pending in {batch}",
                      error_class="BatchPending", error_kind=PENDING)  # fmt: skip

"""A deterministic OpenAI-compatible chat-completions server for tests and benchmarks.

Answers are derived from the request only, so a rebuild that sends the same request
gets the same answer. Tests drive it two ways:

* server-wide settings (`ServerConfig`): latency, a fraction of requests answered 429
  or 500, the Retry-After value; changed in-process via `server.config` or over HTTP
  with ``POST /_config {"latency": 0.1}``;
* markers in the last user message, which apply to that request only::

      [[json]]            answer a JSON object {"text": ..., "n": <len>}
      [[json_list=3]]     answer a JSON list of 3 objects
      [[reply=hello]]     answer exactly "hello"
      [[status=429]]      always answer that HTTP status (429 carries Retry-After)
      [[fail_first=2]]    answer 500 to the first 2 requests with this prompt
      [[rate_first=1]]    answer 429 to the first request with this prompt
      [[hang]]            never answer (the client must time out)
      [[garbage]]         a 200 with a body that is not JSON
      [[malformed]]       a 200 with JSON that is not a chat completion (no choices)
      [[length]]          finish_reason "length"
      [[empty]]           empty content
      [[filter]]          finish_reason "content_filter", no content
      [[latency=0.5]]     this request waits 0.5 s
      [[leak_auth]]       a 401 whose error message repeats the Authorization header
                          (as careless servers do), to prove the client scrubs it

Every request to /v1/chat/completions is counted: `server.stats.total` and
`server.stats.per_prompt[<last user message>]`, its raw body kept in
`server.stats.bodies`; ``GET /_stats`` returns the counts and
``POST /_reset`` clears them.

A provider-style rate limit: with `rpm` set, a request arriving when `rpm` requests
were already accepted in the last `window_s` seconds is answered 429 (with a
Retry-After saying when a slot frees, or none when `retry_after` is None). Accepted
requests' arrival times are kept in `server.stats.accepted`;
`server.stats.max_in_window(window_s)` is the most of them any window held.

``POST /v1/embeddings`` answers each input with a hashed bag of its lowercased words
(`EMBEDDING_DIMENSIONS` wide, or the request's `dimensions`), not normalised, so texts
sharing words get similar vectors; float lists, or base64 float32 when the request asks
for `encoding_format: base64` (the openai SDK's default). Requests and texts are counted
in `server.stats.embedding_requests` and `server.stats.embedded_texts`; the server-wide
`fault_rate` applies to them too.

The batch API (``/v1/files``, ``/v1/batches``) lives in `llm_batches.py`: lines are
answered as this endpoint would answer them, after a configurable delay
(`server.batches.config`), counted in `server.batches.stats`.

Standalone, for benchmarks::

    python tests/llm_server.py --port 8765 --latency 0.1
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import json
import random
import re
import socket
import struct
import threading
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

from aiohttp import web
from llm_batches import BatchEndpoints

MARKER = re.compile(r"\[\[(\w+)(?:=([^\]]*))?\]\]")
EMBEDDING_DIMENSIONS = 64


@dataclass
class ServerConfig:
    latency: float = 0.0  # seconds added to every request
    fault_rate: float = 0.0  # fraction of requests answered with a 429 or a 500
    retry_after: float | None = 0.05  # seconds, sent with every fault 429 (None: no header)
    garbage_rate: float = 0.0  # fraction of requests answered 200 with a body that is not JSON
    rpm: int | None = None  # accepted requests per window, as a provider's sliding window
    window_s: float = 60.0
    seed: int = 0


@dataclass
class ServerStats:
    total: int = 0
    per_prompt: Counter[str] = field(default_factory=Counter)
    statuses: Counter[int] = field(default_factory=Counter)
    last_body: dict[str, Any] = field(default_factory=dict)  # the latest request, as sent
    bodies: list[str] = field(default_factory=list)  # every completion request's raw body
    embedding_requests: int = 0
    embedded_texts: int = 0
    authorizations: Counter[str] = field(default_factory=Counter)  # Authorization headers
    arrivals: list[float] = field(default_factory=list)  # time.monotonic() of each request
    in_flight: int = 0
    peak_in_flight: int = 0  # most completion requests being answered at once
    # Wall-clock (time.time) of the first request's arrival and the latest answer, for
    # benchmarks' request span; POST /_reset clears them.
    first_request_at: float | None = None
    last_answer_at: float | None = None
    accepted: list[float] = field(default_factory=list)  # arrival times the rpm window let in
    prompt_tokens: int = 0  # usage of the answers sent
    completion_tokens: int = 0

    def max_in_window(self, window_s: float) -> int:
        """The most accepted requests that arrived within any `window_s` seconds."""
        times, most, first = sorted(self.accepted), 0, 0
        for last, at in enumerate(times):
            while at - times[first] >= window_s:
                first += 1
            most = max(most, last - first + 1)
        return most

    def as_json(self) -> dict[str, Any]:
        return {
            "total": self.total,
            "first_request_at": self.first_request_at,
            "last_answer_at": self.last_answer_at,
            "per_prompt": dict(self.per_prompt),
            "statuses": {str(k): v for k, v in self.statuses.items()},
            "embedding_requests": self.embedding_requests,
            "embedded_texts": self.embedded_texts,
            "accepted": len(self.accepted),
        }


def _last_user(messages: list[dict[str, Any]]) -> str:
    for message in reversed(messages):
        if message.get("role") == "user":
            content = message.get("content")
            return content if isinstance(content, str) else json.dumps(content)
    return ""


def _words(text: str) -> int:
    return len(text.split())


def _answer_text(body: dict[str, Any], index: int, markers: dict[str, str]) -> str:
    """The deterministic answer for one choice of a request."""
    if "reply" in markers:
        return markers["reply"]
    identity = {k: body.get(k) for k in ("model", "messages", "temperature", "top_p", "seed")}
    digest = hashlib.sha256(json.dumps([identity, index], sort_keys=True).encode()).hexdigest()
    prompt = MARKER.sub("", _last_user(body.get("messages", []))).strip()
    if "json_list" in markers:
        count = int(markers["json_list"] or 2)
        return json.dumps([{"text": f"{prompt} #{i}", "id": digest[:8]} for i in range(count)])
    if "json" in markers:
        return json.dumps({"text": prompt, "n": len(prompt), "id": digest[:8]})
    return f"echo {digest[:12]}: {prompt}"


def _choice(body: dict[str, Any], index: int, markers: dict[str, str]) -> dict[str, Any]:
    text = _answer_text(body, index, markers)
    finish = "stop"
    max_tokens = body.get("max_tokens") or body.get("max_completion_tokens")
    if "length" in markers:
        finish = "length"
    elif isinstance(max_tokens, int) and _words(text) > max_tokens:
        text, finish = " ".join(text.split()[:max_tokens]), "length"
    content: str | None = text
    if "empty" in markers:
        content = ""
    if "filter" in markers:
        content, finish = None, "content_filter"
    return {
        "index": index,
        "message": {"role": "assistant", "content": content},
        "finish_reason": finish,
        "logprobs": None,
    }


def completion_body(body: dict[str, Any], markers: dict[str, str]) -> dict[str, Any]:
    """The JSON a real server would send for `body`, with honest usage counts."""
    n = int(body.get("n") or 1)
    choices = [_choice(body, i, markers) for i in range(n)]
    prompt_tokens = sum(_words(str(m.get("content") or "")) for m in body.get("messages", []))
    completion_tokens = sum(_words(c["message"]["content"] or "") for c in choices)
    digest = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()
    return {
        "id": f"chatcmpl-{digest[:24]}",
        "object": "chat.completion",
        "created": 1700000000,
        "model": body.get("model", "test"),
        "choices": choices,
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
    }


def hashed_bag_of_words(text: str, dimensions: int = EMBEDDING_DIMENSIONS) -> list[float]:
    """Each lowercased word adds +-1 at a position its hash picks (not normalised)."""
    vector = [0.0] * dimensions
    for word in re.findall(r"\w+", text.lower()):
        digest = hashlib.blake2b(word.encode(), digest_size=8).digest()
        sign = 1.0 if digest[0] & 1 else -1.0
        vector[int.from_bytes(digest[1:], "little") % dimensions] += sign
    return vector


def embedding_body(body: dict[str, Any]) -> dict[str, Any]:
    """The JSON a real server would send for an embeddings request."""
    texts = body.get("input") or []
    texts = [texts] if isinstance(texts, str) else texts
    dimensions = int(body.get("dimensions") or EMBEDDING_DIMENSIONS)
    data = []
    for index, text in enumerate(texts):
        vector: Any = hashed_bag_of_words(str(text), dimensions)
        if body.get("encoding_format") == "base64":
            packed = struct.pack(f"<{dimensions}f", *vector)
            vector = base64.b64encode(packed).decode()
        data.append({"object": "embedding", "index": index, "embedding": vector})
    tokens = sum(_words(str(text)) for text in texts)
    return {
        "object": "list",
        "data": data,
        "model": body.get("model", "test"),
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    }


class LLMTestServer:
    """The server's state and handlers; `start()` runs it on a background thread."""

    def __init__(self, config: ServerConfig | None = None) -> None:
        self.config = config or ServerConfig()
        self.stats = ServerStats()
        self._rng = random.Random(self.config.seed)
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None
        self.port = 0
        self.batches = BatchEndpoints(self)  # /v1/files and /v1/batches (llm_batches.py)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def reset(self) -> None:
        """Forget every counted request and restart the fault sequence, so a test sees
        the same faults whichever tests ran before it."""
        with self._lock:
            self.stats = ServerStats()
            self._rng = random.Random(self.config.seed)
            self.batches.reset()

    def app(self) -> web.Application:
        app = web.Application(client_max_size=256 * 1024 * 1024)  # batch input files
        app.router.add_post("/v1/chat/completions", self.chat_completions)
        app.router.add_post("/chat/completions", self.chat_completions)
        app.router.add_post("/v1/embeddings", self.embeddings)
        app.router.add_post("/embeddings", self.embeddings)
        self.batches.routes(app)
        app.router.add_get("/_stats", self._get_stats)
        app.router.add_post("/_reset", self._post_reset)
        app.router.add_post("/_config", self._post_config)
        return app

    async def chat_completions(self, request: web.Request) -> web.StreamResponse:
        raw = await request.text()
        body = json.loads(raw)
        prompt = _last_user(body.get("messages", []))
        markers = {m.group(1): m.group(2) or "" for m in MARKER.finditer(prompt)}
        with self._lock:
            self.stats.total += 1
            if self.stats.first_request_at is None:
                self.stats.first_request_at = time.time()
            self.stats.last_body = body
            self.stats.bodies.append(raw)
            self.stats.per_prompt[prompt] += 1
            self.stats.authorizations[request.headers.get("Authorization", "")] += 1
            self.stats.arrivals.append(time.monotonic())
            self.stats.in_flight += 1
            self.stats.peak_in_flight = max(self.stats.peak_in_flight, self.stats.in_flight)
            seen = self.stats.per_prompt[prompt]
            fault = self._rng.random() < self.config.fault_rate
            fault_status = self._rng.choice((429, 500))
            garbage = self._rng.random() < self.config.garbage_rate
            window_wait = self._admit(time.monotonic())
        try:
            return await self._complete(
                request, body, markers, seen, (fault, fault_status, garbage), window_wait
            )
        finally:
            with self._lock:
                self.stats.in_flight -= 1

    async def _complete(
        self,
        request: web.Request,
        body: dict[str, Any],
        markers: dict[str, str],
        seen: int,
        faults: tuple[bool, int, bool],
        window_wait: float | None,
    ) -> web.StreamResponse:
        """The answer to one completion request, given the faults drawn for it (an error
        status or not, which one, a non-JSON body) and the rpm window's verdict."""
        fault, fault_status, garbage = faults
        latency = float(markers.get("latency") or self.config.latency)
        if "hang" in markers:
            latency = 3600.0
        if latency:
            await asyncio.sleep(latency)
        status = self._status_for(markers, seen, fault, fault_status)
        if window_wait is not None and status == 200:
            status = 429
        with self._lock:
            self.stats.statuses[status] += 1
            self.stats.last_answer_at = time.time()
        if "leak_auth" in markers:
            leaked = request.headers.get("Authorization", "")
            error = {"error": {"message": f"invalid key {leaked}", "type": "auth_error"}}
            return web.json_response(error, status=401)
        if status == 429:
            return self._rate_limited(window_wait or self.config.retry_after)
        if status != 200:
            error = {"error": {"message": "server error", "type": "server_error"}}
            return web.json_response(error, status=status)
        if "garbage" in markers or garbage:
            return web.Response(text="<html>not json", content_type="application/json")
        return web.json_response(self._answered(body, markers))

    def answer_line(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """A batch line's status and body: what the chat endpoint answers `body` (its
        markers apply; server-wide faults, latency and the rpm window do not)."""
        prompt = _last_user(body.get("messages", []))
        markers = {m.group(1): m.group(2) or "" for m in MARKER.finditer(prompt)}
        status = self._status_for(markers, 1, False, 200)
        if status != 200:
            return status, {"error": {"message": "server error", "type": "server_error"}}
        return 200, self._answered(body, markers)

    def _answered(self, body: dict[str, Any], markers: dict[str, str]) -> dict[str, Any]:
        """The completion for `body`, its usage counted (without `choices` when the
        prompt asks for a malformed answer)."""
        answer = completion_body(body, markers)
        with self._lock:
            self.stats.prompt_tokens += answer["usage"]["prompt_tokens"]
            self.stats.completion_tokens += answer["usage"]["completion_tokens"]
        if "malformed" in markers:
            del answer["choices"]
        return answer

    def _admit(self, now: float) -> float | None:
        """Under the rpm window: None when the request is accepted (and recorded), else
        the seconds until a slot frees. Called with the lock held."""
        if self.config.rpm is None:
            self.stats.accepted.append(now)
            return None
        recent = [t for t in self.stats.accepted if t > now - self.config.window_s]
        if len(recent) < self.config.rpm:
            self.stats.accepted.append(now)
            return None
        return recent[-self.config.rpm] + self.config.window_s - now

    def _rate_limited(self, retry_after: float | None) -> web.Response:
        error = {"error": {"message": "rate limited", "type": "rate_limit_exceeded"}}
        headers = {}
        if retry_after is not None and self.config.retry_after is not None:
            headers["Retry-After"] = f"{max(retry_after, 0.01):.2f}"
        return web.json_response(error, status=429, headers=headers)

    async def embeddings(self, request: web.Request) -> web.Response:
        body = await request.json()
        texts = body.get("input") or []
        with self._lock:
            self.stats.embedding_requests += 1
            self.stats.embedded_texts += 1 if isinstance(texts, str) else len(texts)
            self.stats.last_body = body
            fault = self._rng.random() < self.config.fault_rate
            fault_status = self._rng.choice((429, 500))
        if self.config.latency:
            await asyncio.sleep(self.config.latency)
        if fault and fault_status == 429:
            return self._rate_limited(self.config.retry_after)
        if fault:
            error = {"error": {"message": "server error", "type": "server_error"}}
            return web.json_response(error, status=500)
        return web.json_response(embedding_body(body))

    def _status_for(
        self, markers: dict[str, str], seen: int, fault: bool, fault_status: int
    ) -> int:
        if "status" in markers:
            return int(markers["status"])
        if "fail_first" in markers and seen <= int(markers["fail_first"] or 1):
            return 500
        if "rate_first" in markers and seen <= int(markers["rate_first"] or 1):
            return 429
        return fault_status if fault else 200

    async def _get_stats(self, request: web.Request) -> web.Response:
        with self._lock:
            return web.json_response(
                {**self.stats.as_json(), "batches": self.batches.stats.as_json()}
            )

    async def _post_reset(self, request: web.Request) -> web.Response:
        self.reset()
        return web.json_response({"ok": True})

    async def _post_config(self, request: web.Request) -> web.Response:
        changes = await request.json()
        for key, value in changes.items():
            setattr(self.config, key, value)
        return web.json_response(asdict(self.config))

    def start(self, port: int = 0) -> LLMTestServer:
        """Serve on 127.0.0.1 (a free port when 0) from a daemon thread; returns self."""
        self.port = port or free_port()
        started = threading.Event()
        self._thread = threading.Thread(target=self._serve, args=(started,), daemon=True)
        self._thread.start()
        if not started.wait(10):
            raise RuntimeError("test LLM server did not start")
        return self

    def _serve(self, started: threading.Event) -> None:
        self._loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self._loop)
        self._runner = web.AppRunner(self.app(), access_log=None, handler_cancellation=True)
        self._loop.run_until_complete(self._runner.setup())
        site = web.TCPSite(self._runner, "127.0.0.1", self.port, backlog=1024)
        self._loop.run_until_complete(site.start())
        started.set()
        self._loop.run_forever()
        self._loop.run_until_complete(self._runner.cleanup())
        self._loop.close()

    def stop(self) -> None:
        """Stop serving and join the thread."""
        if self._loop is not None and self._thread is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--latency", type=float, default=0.0)
    parser.add_argument("--fault-rate", type=float, default=0.0)
    parser.add_argument("--garbage-rate", type=float, default=0.0)
    parser.add_argument("--no-retry-after", action="store_true", help="429s without the header")
    args = parser.parse_args()
    config = ServerConfig(latency=args.latency, fault_rate=args.fault_rate,
                          garbage_rate=args.garbage_rate,
                          retry_after=None if args.no_retry_after else 0.05)  # fmt: skip
    server = LLMTestServer(config)
    runner = web.AppRunner(server.app(), access_log=None, handler_cancellation=True)

    async def serve() -> None:
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", args.port, backlog=1024).start()
        print(f"listening on http://127.0.0.1:{args.port}/v1", flush=True)
        while True:
            await asyncio.sleep(3600)

    try:
        asyncio.run(serve())
    except KeyboardInterrupt:
        time.sleep(0)


if __name__ == "__main__":
    main()

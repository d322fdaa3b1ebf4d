"""How one call reaches a model: litellm's own `acompletion`, or, for OpenAI-compatible
endpoints, a request body posted over a shared aiohttp session. The body is built
without litellm where `wire.py` shows litellm would send it unchanged, else translated
by litellm. Imports litellm lazily (with `local.py`, the only modules that do), so a
build whose models are all plain OpenAI-compatible endpoints never imports it.

Failures are classified by exception type and HTTP status, never by message text.
"""

from __future__ import annotations

import email.utils
import json
import os
import re
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from synthc.llm.calls import FATAL, RATE_LIMITED, TRANSIENT, UNREADABLE
from synthc.llm.loader import load_litellm
from synthc.llm.models import ModelSpec
from synthc.llm.wire import (
    FAST_PROVIDERS,
    plain_body,
    plain_messages,
    plain_model,
    plain_params,
)

OPENAI_BASE = "https://api.openai.com/v1"
TOKEN_PATTERN = re.compile(r"(Bearer\s+)[\w.~+/=-]+|sk-[\w-]{8,}")


@dataclass(frozen=True)
class Outcome:
    """A response that arrived (it may still be unfit for the cache)."""

    text: str | None
    finish_reason: str | None
    prompt_tokens: int
    completion_tokens: int


class CallFailure(Exception):
    """A failed attempt: its kind (retry policy), a litellm-style class name, a message."""

    def __init__(self, kind: str, error_class: str, message: str, retry_after: float | None = None):
        super().__init__(message)
        self.kind = kind
        self.error_class = error_class
        self.message = message
        self.retry_after = retry_after


@dataclass(frozen=True)
class _Route:
    provider: str
    model: str  # the provider's own model name
    url: str
    headers: Mapping[str, str]
    base: str = ""  # the API's base URL, ending in /v1 for OpenAI
    plain: bool = False  # litellm's transform would leave plain calls unchanged (wire.py)


def secret_values(spec: ModelSpec) -> list[str]:
    """Values no message may show: the model's key and every key-like variable set."""
    values = [spec.api_key() or ""]
    values += [v for k, v in os.environ.items() if k.endswith(("_API_KEY", "_KEY", "_TOKEN"))]
    return [v for v in values if len(v) >= 6]


def scrub(text: str, secrets: Sequence[str]) -> str:
    """`text` with every known secret and anything shaped like a bearer token redacted."""
    for secret in secrets:
        text = text.replace(secret, "***")
    return TOKEN_PATTERN.sub(lambda m: (m.group(1) or "") + "***", text)


def parse_retry_after(value: str | None) -> float | None:
    """Retry-After as seconds: a number, or an HTTP date."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def status_failure(status: int, retry_after: str | None, body: bytes) -> CallFailure:
    snippet = body[:300].decode("utf-8", "replace")
    message = f"HTTP {status}: {snippet}"
    if status == 429:
        return CallFailure(RATE_LIMITED, "RateLimitError", message, parse_retry_after(retry_after))
    if status >= 500 or status in (408, 409):
        names = {502: "BadGatewayError", 503: "ServiceUnavailableError", 408: "Timeout"}
        return CallFailure(TRANSIENT, names.get(status, "InternalServerError"), message)
    names = {400: "BadRequestError", 401: "AuthenticationError", 403: "PermissionDeniedError",
             404: "NotFoundError", 422: "UnprocessableEntityError"}  # fmt: skip
    return CallFailure(FATAL, names.get(status, "APIError"), message)


def _parse_completion(raw: bytes) -> Outcome:
    """A 200's body as an `Outcome`. A body that is not JSON at all (a proxy's error
    page) is transient; JSON that is not a chat completion is an answer nobody can
    read, and asking again would pay for it again."""
    try:
        data = json.loads(raw)
    except ValueError:
        raise CallFailure(TRANSIENT, "APIResponseValidationError",
                          "HTTP 200, but the body is not JSON") from None  # fmt: skip
    return completion_outcome(data)


def completion_outcome(data: Any) -> Outcome:
    """A chat completion's JSON (a direct answer, or a batch line's body) as an
    `Outcome`; anything else is `UNREADABLE`."""
    try:
        choice = data["choices"][0]
        usage = data.get("usage") or {}
        return Outcome(
            text=choice["message"].get("content"),
            finish_reason=choice.get("finish_reason"),
            prompt_tokens=int(usage.get("prompt_tokens") or 0),
            completion_tokens=int(usage.get("completion_tokens") or 0),
        )
    except (ValueError, KeyError, IndexError, TypeError, AttributeError) as exc:
        message = f"HTTP 200, but the answer is not a chat completion ({type(exc).__name__}: {exc})"
        raise CallFailure(UNREADABLE, "APIResponseValidationError", message) from None


class Transports:
    """Per-run transport state: routes, translated bodies, HTTP sessions, price rates.

    Lives for one `LLMClient.complete` call (aiohttp sessions belong to one event loop).
    """

    def __init__(self, timeout: float, force_litellm: bool = False) -> None:
        self.timeout = timeout
        self.force_litellm = force_litellm
        self._litellm: Any = None
        self._routes: dict[str, _Route | None] = {}
        self._openai_routes: dict[str, _Route | None] = {}
        self._bodies: dict[tuple[str, str], tuple[Any, dict[str, Any], dict[str, Any]]] = {}
        self._sessions: dict[str, Any] = {}
        self._rates: dict[str, tuple[float, float] | None] = {}
        self._batch_rates: dict[str, tuple[float, float] | None] = {}
        self._saved_suppress: Any = None

    def litellm(self) -> Any:
        """litellm, loaded on first need. For this run only, its "Give Feedback" banner
        is switched off: litellm prints it to stdout on every failed call, and synthc's
        stdout carries data. `close()` restores the user's setting."""
        if self._litellm is None:
            self._litellm = load_litellm()
            self._saved_suppress = self._litellm.suppress_debug_info
            self._litellm.suppress_debug_info = True
        return self._litellm

    def prepare(self, spec: ModelSpec) -> None:
        """Do now what a first call would do slowly (import litellm, route, price), so
        no request is booked in a rate window and then sent seconds later. A plain
        OpenAI-compatible model needs no litellm (its calls may, if not plain)."""
        route = self._route(spec)
        if route is None or not route.plain:
            self.litellm()
        self.cost(spec, 0, 0)

    async def send(
        self,
        spec: ModelSpec,
        messages: Sequence[Mapping[str, Any]],
        params: Mapping[str, Any],
        sample_index: int = 0,
        timeout: float | None = None,
    ) -> Outcome:
        """One attempt, given `timeout` seconds (else the run's). Raises `CallFailure`."""
        timeout = timeout or self.timeout
        route = self._route(spec)
        if route is None:
            if spec.is_local:
                # In-process sampling is seeded: vary the seed by sample so n > 1 differs.
                params = {**params, "seed": int(params.get("seed", 0)) + sample_index}
            return await self._send_litellm(spec, messages, params, timeout)
        return await self._send_http(route, spec, messages, params, timeout)

    def _route(self, spec: ModelSpec) -> _Route | None:
        if spec.name in self._routes:
            return self._routes[spec.name]
        route = None
        plain = None if self.force_litellm else plain_model(spec)
        if plain is not None:
            provider, model = plain
            base = (spec.api_base or "").rstrip("/")
            route = _Route(provider, model, _chat_url(base), _headers(spec), base, plain=True)
        elif not self.force_litellm and not spec.is_local:
            route = self._openai_route(spec)
        self._routes[spec.name] = route
        return route

    def _openai_route(self, spec: ModelSpec) -> _Route | None:
        """Where an OpenAI-wire-format model's chat endpoint is, or None for others
        (memoised per alias)."""
        if spec.name in self._openai_routes:
            return self._openai_routes[spec.name]
        litellm = self.litellm()
        model, provider, _, api_base = litellm.get_llm_provider(spec.model, api_base=spec.api_base)
        route = None
        if provider in FAST_PROVIDERS:
            base = (api_base or spec.api_base or OPENAI_BASE).rstrip("/")
            route = _Route(provider, model, _chat_url(base), _headers(spec), base)
        self._openai_routes[spec.name] = route
        return route

    def batch_body(
        self, spec: ModelSpec, messages: Sequence[Mapping[str, Any]], params: Mapping[str, Any]
    ) -> dict[str, Any]:
        """The request body a direct call to `spec` posts, for a batch line; raises
        `CallFailure` (fatal) for a provider without an OpenAI-style batch API."""
        route = self._openai_route(spec)
        if route is None or route.provider != "openai":
            raise CallFailure(FATAL, "BadRequestError", f"model '{spec.name}' ({spec.model}): "
                              "batch: needs a model litellm sends to openai")  # fmt: skip
        return self._body(route, spec, messages, params)

    def batch_access(self, spec: ModelSpec) -> dict[str, Any]:
        """The provider, base URL and key litellm's file and batch functions take. An
        OpenAI-compatible server without a key still gets one (the SDK insists)."""
        route = self._openai_route(spec)
        base = route.base if route is not None else OPENAI_BASE
        return {"custom_llm_provider": "openai", "api_base": base,
                "api_key": spec.api_key() or "no-key"}  # fmt: skip

    def batch_cost(
        self, spec: ModelSpec, prompt_tokens: int, completion_tokens: int
    ) -> float | None:
        """Dollars at the provider's batch price: litellm's `batch_cost_calculator`
        (the table's `*_batches` rates, else half the direct rates, as litellm assumes),
        memoised per model. None when the model is not priced."""
        if spec.model not in self._batch_rates:
            rates = None
            if self.cost(spec, 0, 0) is not None:
                from litellm.cost_calculator import batch_cost_calculator
                from litellm.types.utils import Usage

                usage = Usage(prompt_tokens=1000, completion_tokens=1000, total_tokens=2000)
                try:
                    per_prompt, per_completion = batch_cost_calculator(usage, spec.model)
                    rates = (per_prompt / 1000, per_completion / 1000)
                except Exception:  # litellm raises several types for "not in the table"
                    rates = None
            self._batch_rates[spec.model] = rates
        rates = self._batch_rates[spec.model]
        return None if rates is None else prompt_tokens * rates[0] + completion_tokens * rates[1]

    def _body(
        self,
        route: _Route,
        spec: ModelSpec,
        messages: Sequence[Mapping[str, Any]],
        params: Mapping[str, Any],
    ) -> dict[str, Any]:
        """The request body litellm would send: its provider config maps the parameters
        once per (model, params); each call's messages go through the config's own
        request transform (10-100 µs: o-series models, for one, move system messages).
        A plain route's plain call is built without litellm (`wire.py`)."""
        if route.plain and plain_params(params) and plain_messages(messages):
            return plain_body(route.model, messages, params)
        # repr of sorted items tells parameter sets apart within one run, far cheaper
        # than a fingerprint on the per-call path.
        memo_key = (spec.name, repr(sorted(params.items())))
        prepared = self._bodies.get(memo_key)
        if prepared is None:
            self.litellm()
            from litellm.types.utils import LlmProviders
            from litellm.utils import ProviderConfigManager

            config: Any = ProviderConfigManager.get_provider_chat_config(
                model=route.model, provider=LlmProviders(route.provider)
            )
            supported = set(config.get_supported_openai_params(route.model))
            mapped = config.map_openai_params(
                non_default_params={k: v for k, v in params.items() if k in supported},
                optional_params={}, model=route.model, drop_params=False,
            )  # fmt: skip
            extras = {k: v for k, v in params.items() if k not in supported}
            prepared = self._bodies[memo_key] = (config, mapped, extras)
        config, mapped, extras = prepared
        body: dict[str, Any] = config.transform_request(
            route.model, [dict(m) for m in messages], dict(mapped), {}, {}
        )
        body.update(extras)
        return body

    def _session(self, route: _Route) -> Any:
        session = self._sessions.get(route.url)
        if session is None:
            import aiohttp

            session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=0, ttl_dns_cache=300),
                timeout=aiohttp.ClientTimeout(total=self.timeout),
            )
            self._sessions[route.url] = session
        return session

    async def _send_http(
        self,
        route: _Route,
        spec: ModelSpec,
        messages: Sequence[Mapping[str, Any]],
        params: Mapping[str, Any],
        timeout: float,
    ) -> Outcome:
        import aiohttp

        body = self._body(route, spec, messages, params)
        session = self._session(route)
        # The session's timeout unless the model has its own (None would mean "none").
        extra = {} if timeout == self.timeout else {"timeout": aiohttp.ClientTimeout(total=timeout)}
        try:
            async with session.post(
                route.url, data=json.dumps(body), headers=route.headers, **extra
            ) as resp:
                raw = await resp.read()
                status, retry_after = resp.status, resp.headers.get("Retry-After")
        except TimeoutError:
            raise CallFailure(TRANSIENT, "Timeout", f"no answer within {timeout}s") from None
        except aiohttp.ClientError as exc:
            message = f"{type(exc).__name__} while calling {route.url}"
            raise CallFailure(TRANSIENT, "APIConnectionError", message) from None
        if status != 200:
            raise status_failure(status, retry_after, raw)
        return _parse_completion(raw)

    async def _send_litellm(
        self,
        spec: ModelSpec,
        messages: Sequence[Mapping[str, Any]],
        params: Mapping[str, Any],
        timeout: float,
    ) -> Outcome:
        litellm = self.litellm()
        extra = _credentials(spec)
        answered = _AnswerWatch()
        try:
            response = await litellm.acompletion(
                model=spec.model, messages=list(messages), timeout=timeout, num_retries=0,
                max_retries=0, logger_fn=answered, **extra, **params,
            )  # fmt: skip
        except Exception as exc:
            raise answered.unreadable(classify(exc, litellm)) from None
        try:
            choice = response.choices[0]
            usage = getattr(response, "usage", None)
            return Outcome(
                text=choice.message.content,
                finish_reason=choice.finish_reason,
                prompt_tokens=int(getattr(usage, "prompt_tokens", 0) or 0),
                completion_tokens=int(getattr(usage, "completion_tokens", 0) or 0),
            )
        except (AttributeError, IndexError, TypeError, ValueError) as exc:
            message = f"the answer is not a chat completion ({type(exc).__name__}: {exc})"
            raise CallFailure(UNREADABLE, "APIResponseValidationError", message) from None

    async def embed(
        self, spec: ModelSpec, texts: Sequence[str], params: Mapping[str, Any]
    ) -> tuple[list[list[float]], int]:
        """One embeddings request through `litellm.aembedding`: a vector per text, in
        order, and the prompt tokens used. Raises `CallFailure`."""
        litellm = self.litellm()
        answered = _AnswerWatch()
        try:
            response = await litellm.aembedding(
                model=spec.model, input=list(texts), timeout=self.timeout, num_retries=0,
                max_retries=0, logger_fn=answered, **_credentials(spec), **params,
            )  # fmt: skip
        except Exception as exc:
            raise answered.unreadable(classify(exc, litellm)) from None
        try:
            rows = sorted(response.data, key=lambda row: _field(row, "index"))
            vectors = [list(_field(row, "embedding")) for row in rows]
        except (KeyError, TypeError, AttributeError):
            vectors = []
        if len(vectors) != len(texts) or any(isinstance(v, str) for v in vectors):
            message = f"{len(texts)} texts sent, {len(vectors)} float vectors returned"
            raise CallFailure(UNREADABLE, "APIResponseValidationError", message)
        usage = getattr(response, "usage", None)
        return vectors, int(getattr(usage, "prompt_tokens", 0) or 0)

    def cost(self, spec: ModelSpec, prompt_tokens: int, completion_tokens: int) -> float | None:
        """Dollars from litellm's price table, as per-token rates memoised per model
        (one table lookup per model, not per call). None when the model is not priced."""
        if spec.is_local:
            return 0.0
        if spec.model not in self._rates and plain_model(spec) is not None:
            self._rates[spec.model] = None  # not in litellm's price table (wire.py)
        if spec.model not in self._rates:
            try:
                per_prompt, per_completion = self.litellm().cost_per_token(
                    model=spec.model, prompt_tokens=1000, completion_tokens=1000
                )
                self._rates[spec.model] = (per_prompt / 1000, per_completion / 1000)
            except Exception:  # litellm raises several types for "not in the table"
                self._rates[spec.model] = None
        rates = self._rates[spec.model]
        return None if rates is None else prompt_tokens * rates[0] + completion_tokens * rates[1]

    @contextmanager
    def local_provider(self, needed: bool) -> Iterator[None]:
        """Register the `local/` provider with litellm for the duration of a run."""
        if not needed:
            yield
            return
        from synthc.llm import local

        handler = local.handler()
        with local.registered(self.litellm(), handler):
            yield

    async def close(self) -> None:
        for session in self._sessions.values():
            await session.close()
        self._sessions.clear()
        if self._litellm is not None:
            self._litellm.suppress_debug_info = self._saved_suppress


class _AnswerWatch:
    """litellm's per-call `logger_fn`: notes when the provider's raw answer arrived, so
    a failure raised after it (litellm's response translation, a missing field) is told
    apart from one before it. litellm maps both to the same exception types."""

    def __init__(self) -> None:
        self.answered = False

    def __call__(self, details: Mapping[str, Any]) -> None:
        if details.get("log_event_type") == "post_api_call":
            self.answered = True

    def unreadable(self, failure: CallFailure) -> CallFailure:
        """`failure`, or for a transient one after an answer arrived: `UNREADABLE`."""
        if not self.answered or failure.kind != TRANSIENT:
            return failure
        message = f"the provider answered, but litellm could not read the answer: {failure.message}"
        return CallFailure(UNREADABLE, failure.error_class, message)


def _chat_url(base: str) -> str:
    return f"{base.rstrip('/')}/chat/completions"


def _headers(spec: ModelSpec) -> dict[str, str]:
    headers = {"Content-Type": "application/json"}
    key = spec.api_key()
    if key:
        headers["Authorization"] = f"Bearer {key}"
    return headers


def _credentials(spec: ModelSpec) -> dict[str, Any]:
    """api_base and api_key arguments for litellm, where the model has them."""
    extra: dict[str, Any] = {}
    if spec.api_base:
        extra["api_base"] = spec.api_base
    key = spec.api_key()
    if key:
        extra["api_key"] = key
    return extra


def _field(row: Any, name: str) -> Any:
    """A field of an embedding row: litellm gives dicts or objects depending on version."""
    return row[name] if isinstance(row, Mapping) else getattr(row, name)


def classify(exc: BaseException, litellm: Any) -> CallFailure:
    """A litellm exception as a `CallFailure`, by type (and status code) only."""
    name = type(exc).__name__
    message = str(exc)[:500]
    if isinstance(exc, litellm.RateLimitError):
        response = getattr(exc, "response", None)
        headers = (
            getattr(response, "headers", None)
            or getattr(exc, "litellm_response_headers", None)
            or {}
        )
        return CallFailure(
            RATE_LIMITED, name, message, parse_retry_after(headers.get("retry-after"))
        )
    transient = (
        litellm.Timeout,
        litellm.APIConnectionError,
        litellm.InternalServerError,
        litellm.ServiceUnavailableError,
        litellm.BadGatewayError,
        litellm.APIResponseValidationError,
    )
    if isinstance(exc, transient):
        return CallFailure(TRANSIENT, name, message)
    if isinstance(exc, litellm.APIError) and (getattr(exc, "status_code", 0) or 0) >= 500:
        return CallFailure(TRANSIENT, name, message)
    return CallFailure(FATAL, name, message)

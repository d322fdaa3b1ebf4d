"""What a step hands the gateway (`CallRequest`) and gets back (`CallResult`), and the
budget that caps spending. No litellm here."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from synthc.errors import SynthcError

# Failure kinds, decided from exception types and HTTP statuses, never message text.
RATE_LIMITED = "rate_limited"  # retry after Retry-After; lower concurrency
TRANSIENT = "transient"  # 5xx, timeout, connection error, garbled body: retry with backoff
UNREADABLE = "unreadable"  # the provider answered 200 but the answer could not be read: the
# request may have been billed, so it is not retried (asking again would pay twice)
REJECTED = "rejected"  # a response arrived but may not be cached (empty, truncated, filtered)
FATAL = "fatal"  # 4xx other than 429, unknown provider, bad params: do not retry
BUDGET = "budget"  # not sent: the budget was reached


@dataclass(frozen=True)
class CallRequest:
    """One model call (one sample) a step wants made.

    `model` is an alias from the recipe's `models:` or a litellm model string; `params`
    are the resolved parameters (temperature, max_tokens, ..., and gateway settings such
    as `allow_truncated`; `synthc.llm.params` sorts them); `row_id` is only for
    accounting. Two requests with equal content share one call and one key.
    """

    model: str
    messages: Sequence[Mapping[str, Any]]
    params: Mapping[str, Any] = field(default_factory=dict)
    sample_index: int = 0
    row_id: str = ""


@dataclass(frozen=True)
class CallResult:
    """The outcome of one request, from the cache or the model.

    `text` is None exactly when `error` is set. `attempts` counts requests sent (0 for
    a cache hit or a call the budget stopped).
    """

    call_key: str
    row_id: str
    model: str
    text: str | None
    finish_reason: str | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float | None = None
    latency_s: float = 0.0  # the provider's time for the last request
    queued_s: float = 0.0  # time spent waiting for a slot, a rate window or a pause
    cached: bool = False
    attempts: int = 0
    error: str | None = None
    error_class: str | None = None
    error_kind: str | None = None
    batch_id: str | None = None  # the provider batch that answered it

    @property
    def ok(self) -> bool:
        return self.error is None

    def call_record(self, step: str) -> dict[str, Any]:
        """A `_calls` row."""
        return {
            "call_key": self.call_key,
            "step": step,
            "row_id": self.row_id,
            "model": self.model,
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "cost_usd": self.cost_usd,
            "latency_s": self.latency_s,
            "queued_s": self.queued_s,
            "cached": self.cached,
            "attempts": self.attempts,
            "error": self.error_class,
            "finish_reason": self.finish_reason,  # "length": cut at max_tokens
            "batch_id": self.batch_id,  # answered in a provider batch, at its price
        }

    def failure_record(self, step: str) -> dict[str, Any]:
        """A `_failures` row (only meaningful when not `ok`)."""
        return {
            "row_id": self.row_id,
            "step": step,
            "call_key": self.call_key,
            "model": self.model,
            "error_class": self.error_class,
            "error_kind": self.error_kind,
            "message": self.error,
            "attempts": self.attempts,
        }


class BudgetExceeded(SynthcError):
    """The recipe's `budget:` was reached; everything done so far is kept."""

    exit_code = 1


@dataclass
class Budget:
    """`budget: {max_usd, max_calls, max_tokens, scope}`, checked before each call.

    By default (`scope: recipe`) the caps hold across builds: `spent` carries what the
    recipe's earlier builds spent (`calls`, `tokens`, `usd`), and this build adds to
    it; `scope: build` caps each build alone. Calls in flight hold a reservation (their
    prompt and expected completion), replaced by the real figures when the answer
    arrives, so the cap holds at high concurrency without stopping far below it.
    Batch lines out at a provider hold their reservation across builds: `held` is what
    the batches out when this build started hold (counted against the caps), and
    `outstanding` says what those out now hold; a build's own spend leaves out what is
    still out and includes what it collected, so no build's figures come out negative.
    """

    max_usd: float | None = None
    max_calls: int | None = None
    max_tokens: int | None = None
    calls: int = 0
    tokens: int = 0
    usd: float = 0.0
    spent: Mapping[str, float] = field(default_factory=dict)  # earlier builds
    held: Mapping[str, float] = field(default_factory=dict)  # batches out at the start
    outstanding: Callable[[], Mapping[str, float]] | None = None  # batches out now

    @classmethod
    def from_config(
        cls,
        config: Mapping[str, Any] | None,
        spent: Mapping[str, float] | None = None,
        held: Mapping[str, float] | None = None,
    ) -> Budget:
        """The budget of `config`; `spent` (earlier builds' calls, tokens and usd)
        counts unless `scope: build`; `held` (what batches out at providers hold) always
        counts, as this build collects them."""
        config = config or {}
        earlier = dict(spent or {}) if config.get("scope", "recipe") == "recipe" else {}
        held = dict(held or {})
        return cls(
            max_usd=config.get("max_usd"),
            max_calls=config.get("max_calls"),
            max_tokens=config.get("max_tokens"),
            calls=int(earlier.get("calls", 0) + held.get("calls", 0)),
            tokens=int(earlier.get("tokens", 0) + held.get("tokens", 0)),
            usd=float(earlier.get("usd", 0.0) + held.get("usd", 0.0)),
            spent=earlier,
            held=held,
        )

    def reserve(self, tokens: int, usd: float) -> str | None:
        """Count a call about to be sent, or say which cap it would break."""
        if self.max_calls is not None and self.calls + 1 > self.max_calls:
            return f"max_calls={self.max_calls} reached{self._earlier('calls', '{:.0f}')}"
        if self.max_tokens is not None and self.tokens + tokens > self.max_tokens:
            return (f"max_tokens={self.max_tokens} reached ({self.tokens} used or reserved"
                    f"{self._earlier('tokens', '{:.0f}', ', ')})")  # fmt: skip
        if self.max_usd is not None and self.usd + usd > self.max_usd:
            return (f"max_usd={self.max_usd} reached (${self.usd:.4f} spent or reserved"
                    f"{self._earlier('usd', '${:.4f}', ', ')})")  # fmt: skip
        self.calls += 1
        self.tokens += tokens
        self.usd += usd
        return None

    def _earlier(self, what: str, form: str, lead: str = " (") -> str:
        amount = self.spent.get(what, 0)
        if not amount:
            return ""
        tail = "" if lead == ", " else ")"
        which = "made" if what == "calls" else "of it"
        return f"{lead}{form.format(amount)} {which} in earlier builds{tail}"

    def settle(self, reserved_tokens: int, reserved_usd: float, tokens: int, usd: float) -> None:
        """Replace a reservation by what the call really used."""
        self.tokens += tokens - reserved_tokens
        self.usd += usd - reserved_usd

    def cancel(self, reserved_tokens: int, reserved_usd: float) -> None:
        """Drop the reservation of a call that was never sent."""
        self.calls -= 1
        self.settle(reserved_tokens, reserved_usd, 0, 0.0)

    def this_build(self) -> dict[str, float]:
        """What this build spent: calls sent or collected from batches, tokens, dollars
        (leaving out what batches still out at providers hold)."""
        out = self.outstanding() if self.outstanding is not None else {}
        return {
            "calls": self.calls - int(self.spent.get("calls", 0)) - int(out.get("calls", 0)),
            "tokens": self.tokens - int(self.spent.get("tokens", 0)) - int(out.get("tokens", 0)),
            "usd": round(
                self.usd - float(self.spent.get("usd", 0.0)) - float(out.get("usd", 0.0)), 8
            ),
        }

    def summary(self) -> str:
        return f"{self.calls} calls, {self.tokens} tokens, ${self.usd:.4f}"


EXPECTED_COMPLETION_SHARE = 0.5  # of max_tokens, until a step's answers show their length


def estimate_split(
    messages: Sequence[Mapping[str, Any]], params: Mapping[str, Any]
) -> tuple[int, int]:
    """(prompt, completion) token estimates: 4 characters a token plus a little per
    message; the completion at `max_tokens` (else 256), an upper bound."""
    chars = sum(len(str(m.get("content") or "")) for m in messages)
    completion = params.get("max_tokens") or params.get("max_completion_tokens") or 256
    return chars // 4 + 8 * len(messages), int(completion)


def expected_completion(params: Mapping[str, Any], observed_mean: float | None) -> int:
    """The completion tokens a call is expected to use: the mean of the answers this
    step already got from the model when known, else `EXPECTED_COMPLETION_SHARE` of
    `max_tokens` (256 when unset)."""
    if observed_mean is not None:
        return max(1, round(observed_mean))
    limit = params.get("max_tokens") or params.get("max_completion_tokens") or 256
    return max(1, round(int(limit) * EXPECTED_COMPLETION_SHARE))


def completion_range(
    params: Mapping[str, Any], observed_mean: float | None
) -> tuple[int, int, int]:
    """(low, expected, high) completion tokens `plan` counts per call: a call may answer
    with nothing, is expected to use `expected_completion`, and stops at `max_tokens`
    (256 when unset)."""
    limit = int(params.get("max_tokens") or params.get("max_completion_tokens") or 256)
    return 0, min(limit, expected_completion(params, observed_mean)), limit


def estimate_tokens(messages: Sequence[Mapping[str, Any]], params: Mapping[str, Any]) -> int:
    """The total of `estimate_split`."""
    return sum(estimate_split(messages, params))

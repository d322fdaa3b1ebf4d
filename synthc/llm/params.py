"""Where each of a call's parameters goes: sent to the provider, part of the call key,
or kept by the gateway for itself. `split_params` is the one place that decides; a
step hands the gateway its resolved `params` whole.

- gateway settings (`allow_truncated`, `concurrency`, `rpm`, `tpm`, `n`, `stream`,
  `timeout`, `request_timeout`) steer the gateway and are never sent: `n` because each
  sample is its own call (the sample index is in the key), `stream` because answers are
  read whole, `timeout` because it is the gateway's own per-request timeout when the
  model's `limits:` set no `timeout_s`;
- transport settings (keys, endpoints, timeouts, retries, headers, ...) are sent but
  never change an answer, so they are not part of the call key;
- everything else (temperature, max_tokens, provider-specific options) is sent and keyed.

A parameter set to null counts as absent.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

GATEWAY_PARAMS = frozenset(
    {"allow_truncated", "concurrency", "rpm", "tpm", "n", "stream", "timeout", "request_timeout"}
)

TRANSPORT_PARAMS = frozenset(
    {
        "api_key",
        "api_base",
        "base_url",
        "api_version",
        "stream_timeout",
        "num_retries",
        "max_retries",
        "retries",
        "metadata",
        "user",
        "extra_headers",
        "headers",
        "mock_response",
        "caching",
        "no-log",
    }
)


@dataclass(frozen=True)
class CallParams:
    """A call's parameters, sorted by where they go."""

    sent: Mapping[str, Any]  # forwarded to the provider
    keyed: Mapping[str, Any]  # part of the call key: what can change the answer
    gateway: Mapping[str, Any]  # kept by the gateway

    @property
    def allow_truncated(self) -> bool:
        """Keep (and cache) an answer cut off at `max_tokens` instead of rejecting it."""
        return bool(self.gateway.get("allow_truncated", False))


def split_params(params: Mapping[str, Any]) -> CallParams:
    """Sort `params` into sent, keyed and gateway settings. Example::

    split_params({"temperature": 0.2, "timeout": 30, "allow_truncated": True})
    # sent {temperature}, keyed {temperature}, gateway {timeout, allow_truncated}
    """
    present = {k: v for k, v in params.items() if v is not None}
    sent = {k: v for k, v in present.items() if k not in GATEWAY_PARAMS}
    return CallParams(
        sent=sent,
        keyed={k: v for k, v in sent.items() if k not in TRANSPORT_PARAMS},
        gateway={k: v for k, v in present.items() if k in GATEWAY_PARAMS},
    )

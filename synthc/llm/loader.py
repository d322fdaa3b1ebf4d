"""The one place synthc imports litellm: `load_litellm()`, called lazily by the
transport and the local provider, never at module import (plan, query and a no-op
build never load it).
"""

from __future__ import annotations

import os
from typing import Any


def load_litellm() -> Any:
    """Import litellm with its bundled price table (it otherwise fetches one at import
    and stalls for seconds without network). The variable only tells litellm where to
    read prices from; a user who set it keeps their value."""
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    import litellm

    return litellm

"""How big the slow acceptance tests run: small by default (what CI runs), whole with
`MEDIAJOBS_TEST_SCALE=full` (the sizes their issues name: a ten-minute file, a batch of 50).

    MEDIAJOBS_TEST_SCALE=full scripts/test tests/acceptance/test_chunked.py \
        tests/acceptance/test_batch_runs.py
"""

from __future__ import annotations

import os

FULL_SCALE = os.environ.get("MEDIAJOBS_TEST_SCALE", "small") == "full"

__all__ = ["FULL_SCALE"]

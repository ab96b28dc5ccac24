"""`python -m helpers.graph_worker`: a real mediajobs worker that also knows the test pipelines.

Wired the way a deployment with pipelines of its own would wire it: the shipped worker with more
pipelines and stage code given explicitly (no configuration strings)."""

from __future__ import annotations

import sys

from helpers.graphs import graph_pipelines, graph_stages
from mediajobs.settings import get_settings
from mediajobs.worker import run_worker


def main() -> None:
    concurrency = int(sys.argv[1]) if len(sys.argv) > 1 else None
    run_worker(get_settings(), concurrency=concurrency, pipelines=graph_pipelines(), stages=graph_stages())


if __name__ == "__main__":
    main()

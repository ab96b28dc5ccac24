"""`python -m mediajobs.worker`: a Celery worker configured from the CELERY_* / MEDIAJOBS_* variables."""

from __future__ import annotations

import sys

from mediajobs.errors import MediaJobsError
from mediajobs.launch import run_worker
from mediajobs.settings import get_settings


def main() -> None:
    try:
        run_worker(get_settings())
    except MediaJobsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(1) from None


if __name__ == "__main__":
    main()

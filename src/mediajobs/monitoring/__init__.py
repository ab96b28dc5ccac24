"""Exposing metrics: the deployment's state read at scrape time (state.py) and the processes' event
metrics (hooks/metrics.py), served by the API at /metrics and by a worker's own port (exposition.py)."""

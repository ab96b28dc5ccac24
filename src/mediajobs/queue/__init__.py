"""Celery side: app factory, routing, outbox dispatcher, maintenance (reaper + relay)."""

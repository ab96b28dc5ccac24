"""Admission: which ready stages are handed to the broker now, and which wait in the database.

A stage becomes *ready* when the stages it needs have succeeded (a job's root stages: at submit). The
store then asks the admission policy, in the same transaction, which of the ready stages may go to
the broker; those become *queued* with an outbox message, the others stay *ready* until the next
admission pass (when a stage ends, and on the maintenance tick).

Today's policy admits everything at once, so nothing ever waits. The tenancy work plugs its lanes,
per-user concurrency limits and fairness in here, as another policy; the store's part (finding ready
stages race-free, writing the admitted ones) does not change.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol


@dataclass(frozen=True, kw_only=True, slots=True)
class Candidate:
    """A ready stage that asks to be admitted."""

    job_id: uuid.UUID
    stage: str
    kind: str
    owner_id: str
    lane: str
    job_created_at: datetime


class Load(Protocol):
    """What is in flight now, for policies that limit it. Asked lazily: a policy that never asks
    costs no database work."""

    def in_flight(self, owner_id: str) -> int:
        """Stages of this user's jobs that are queued or running."""
        ...


class AdmissionPolicy(Protocol):
    def admit(self, candidates: Sequence[Candidate], load: Load) -> Sequence[Candidate]:
        """The candidates to hand to the broker now (a subset, in the order to send them)."""
        ...


class AdmitAll:
    """Every ready stage goes to the broker at once."""

    def admit(self, candidates: Sequence[Candidate], load: Load) -> Sequence[Candidate]:
        return candidates


@dataclass(frozen=True, kw_only=True, slots=True)
class AtMostInFlight:
    """At most `limit` queued or running stages per user; the rest wait, oldest job first.

    A small policy for tests and small deployments; the tenancy issue's fair, per-tier policy
    replaces it.
    """

    limit: int

    def admit(self, candidates: Sequence[Candidate], load: Load) -> Sequence[Candidate]:
        budget: dict[str, int] = {}
        chosen = []
        for candidate in sorted(candidates, key=lambda c: (c.job_created_at, str(c.job_id), c.stage)):
            owner = candidate.owner_id
            if owner not in budget:
                budget[owner] = self.limit - load.in_flight(owner)
            if budget[owner] > 0:
                budget[owner] -= 1
                chosen.append(candidate)
        return chosen


__all__ = ["AdmissionPolicy", "AdmitAll", "AtMostInFlight", "Candidate", "Load"]

"""Admission: which ready stages are handed to the broker now, and which wait in the database.

A stage becomes *ready* when the stages it needs have succeeded (a job's root stages: at submit). The
store then asks the admission policy, in the same transaction, which of the ready stages may go to
the broker; those become *queued* with an outbox message, the others stay *ready* until the next
admission pass (when a stage ends, and on the maintenance tick).

`AdmitAll` admits everything at once (tests, single-user tools). `FairShare`, what services use, holds
each user to their tier's number of stages in flight, admits round-robin across users (so one user's
backlog never delays another user's job), and lets batch work that waited too long run as standard.
A policy may change a candidate's `lane` (the lane its message is routed to), never its job.
"""

from __future__ import annotations

import sys
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import ClassVar, Protocol

from .models import Lane
from .tenancy import DEFAULT_LIMITS, Tier, TierLimits


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

    def tier(self, owner_id: str) -> Tier:
        """The user's tier now."""
        ...

    def now(self) -> datetime: ...


class AdmissionPolicy(Protocol):
    @property
    def holds(self) -> bool:
        """True when the policy may leave stages waiting (the store then re-offers them)."""
        ...

    def admit(self, candidates: Sequence[Candidate], load: Load) -> Sequence[Candidate]:
        """The candidates to hand to the broker now (a subset, in the order to send them)."""
        ...

    def room(self, owner_id: str, load: Load) -> int:
        """How many more of this user's stages `admit` could let through now (0 or less: none), so
        that a store can skip reading candidates that would all be refused."""
        ...


class AdmitAll:
    """Every ready stage goes to the broker at once."""

    holds: ClassVar[bool] = False

    def admit(self, candidates: Sequence[Candidate], load: Load) -> Sequence[Candidate]:
        return candidates

    def room(self, owner_id: str, load: Load) -> int:
        return sys.maxsize


@dataclass(frozen=True, kw_only=True, slots=True)
class AtMostInFlight:
    """At most `limit` queued or running stages per user; the rest wait, oldest job first.

    A small policy for tests; services use FairShare.
    """

    limit: int
    holds: ClassVar[bool] = True

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

    def room(self, owner_id: str, load: Load) -> int:
        return self.limit - load.in_flight(owner_id)


@dataclass(frozen=True, kw_only=True, slots=True)
class FairShare:
    """Per-user limits by tier, round-robin across users, aging of batch work.

    - A user has at most `limits[tier].concurrency` stages queued or running, across lanes; what is
      over waits in the database, so the broker holds a bounded number of each user's messages.
    - Within one admission pass users take turns, the user whose oldest waiting job is oldest first,
      one stage per turn: a user with 1,000 jobs waiting and a user with one get one stage each per
      round.
    - A batch-lane stage whose job has waited longer than `batch_aging` is routed to the standard lane.
    """

    limits: Mapping[Tier, TierLimits] = field(default_factory=lambda: dict(DEFAULT_LIMITS))
    batch_aging: timedelta = timedelta(hours=1)
    holds: ClassVar[bool] = True

    def admit(self, candidates: Sequence[Candidate], load: Load) -> Sequence[Candidate]:
        queues: dict[str, list[Candidate]] = {}
        for candidate in sorted(candidates, key=lambda c: (c.job_created_at, str(c.job_id), c.stage)):
            queues.setdefault(candidate.owner_id, []).append(candidate)
        budget = {
            owner: self.limits[load.tier(owner)].concurrency - load.in_flight(owner) for owner in queues
        }
        now = load.now()
        chosen: list[Candidate] = []
        while True:
            took = False
            for owner, waiting in queues.items():
                if waiting and budget[owner] > 0:
                    budget[owner] -= 1
                    chosen.append(self._route(waiting.pop(0), now))
                    took = True
            if not took:
                return chosen

    def room(self, owner_id: str, load: Load) -> int:
        return self.limits[load.tier(owner_id)].concurrency - load.in_flight(owner_id)

    def _route(self, candidate: Candidate, now: datetime) -> Candidate:
        if candidate.lane == Lane.BATCH and now - candidate.job_created_at > self.batch_aging:
            return replace(candidate, lane=Lane.STANDARD.value)
        return candidate


__all__ = ["AdmissionPolicy", "AdmitAll", "AtMostInFlight", "Candidate", "FairShare", "Load"]

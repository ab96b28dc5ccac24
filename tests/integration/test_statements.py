"""SQL round trips and commits per submit and per stage, on PostgreSQL and SQLite: a budget.

The counts are a property of the code, not of the machine, so they are checked exactly: a change that
adds a round trip to the hot path fails here and must say why in docs/architecture.md (where these
figures are written down). SQLite's counts include the `BEGIN IMMEDIATE` each write transaction
sends; PostgreSQL's include `SET LOCAL synchronous_commit` of the non-durable writes.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from helpers.sqlcount import Counts, counting
from mediajobs.domain import AtMostInFlight, ErrorInfo, FairShare
from mediajobs.pipelines import get_pipeline, shipped_pipelines
from mediajobs.store import Claim, Follow, JobStore, create_db_engine

# operation -> (PostgreSQL statements, SQLite statements); every operation is one commit.
# With the policy that admits everything at once (AdmitAll):
BUDGET = {
    "submit": (5, 6),  # includes the usage charge (jobs this period)
    "admit after commit": (0, 0),
    "publish": (1, 2),  # the "sent" mark of the messages the commit wrote (PostgreSQL: autocommit)
    "mark reserved": (1, 2),  # the worker's main process, when a message arrives (autocommit)
    "claim": (1, 7),  # PostgreSQL: one statement (store/fat.py)
    "renew lease": (2, 2),
    "progress": (4, 5),
    "complete (hand on)": (5, 9),  # PostgreSQL: the job's lock, then checkpoint + attempt + read in one
    "fail (retry)": (6, 8),  # PostgreSQL: the job row's update and its events in one (every job write)
    "complete (last stage)": (3, 8),  # SQLite inserts the two final events one by one
    "admit after, nothing waits": (0, 0),
}
# Before the stage-graph refactor (main at 36f923b), measured the same way, PostgreSQL / SQLite:
BEFORE = {
    "submit": (8, 9),
    "admit after commit": (0, 0),
    "publish": (3, 3),
    "mark reserved": (0, 0),
    "claim": (10, 10),
    "renew lease": (3, 3),
    "progress": (6, 7),
    "complete (hand on)": (13, 13),
    "fail (retry)": (10, 10),
    "complete (last stage)": (13, 13),
    "admit after, nothing waits": (0, 0),
}


# With FairShare, what services use: each transaction that admits takes the user's advisory lock
# (PostgreSQL) and reads their tier and stages in flight; each stage end offers the user's waiting stages.
FAIR_SHARE = {
    "submit": (8, 7),  # the roots admitted in it when the user has room: a look (tier, count,
    #                    anything waiting?), then the user's lock and the look again (PostgreSQL),
    #                    and the roots' messages...
    "admit after commit": (0, 0),  # ...so nothing is left to admit after the commit (7 and 7 before:
    #                                a count, then a transaction with the lock, a count, the admit)
    "publish": (1, 2),
    "mark reserved": (1, 2),
    "claim": (1, 7),
    "renew lease": (2, 2),
    "progress": (4, 5),
    "complete (hand on)": (5, 9),  # the stage's slot goes to the next stage: no lock, no count
    "fail (retry)": (6, 8),
    "complete (last stage)": (4, 9),  # + the user's oldest waiting stage, to pass the slot to
    "admit after, nothing waits": (1, 2),  # one read: does the user have stages waiting?
}
# A user at their limit (FairShare's rule, AtMostInFlight(1) here): what a burst of submits costs.
AT_THE_LIMIT = {
    "admit, user at the limit": (1, 2),  # one read, the count: no lock, no commit, no stage rows read
    "complete (last stage), slot passed": (7, 12),  # + the waiting stage, count, queue it, its message
}
BUDGETS = {"admit-all": BUDGET, "fair-share": FAIR_SHARE}


@pytest.fixture(params=[(db, policy) for db in ("postgresql", "sqlite") for policy in BUDGETS], ids=str)
def store(request: pytest.FixtureRequest) -> Iterator[JobStore]:
    database, policy = request.param
    url = request.getfixturevalue("pg_url" if database == "postgresql" else "sqlite_url")
    engine = create_db_engine(url)
    yield JobStore(
        engine,
        admission=FairShare() if policy == "fair-share" else None,
        pipelines=shipped_pipelines(noop=True),
    )
    engine.dispose()


def test_round_trips_per_submit_and_per_stage_stay_within_the_budget(store: JobStore) -> None:
    column = 0 if store.engine.dialect.name == "postgresql" else 1
    policy = "fair-share" if store.admission.holds else "admit-all"
    budget_table = BUDGETS[policy]
    seen: dict[str, Counts] = {}

    def claim(stage: str) -> Claim:
        result = store.stages.claim_stage(job.id, stage, worker="w", lease_seconds=30)
        assert isinstance(result, Claim)
        return result

    with store.db.collecting() as gathered:  # what the process publishes after the commits, unread
        with counting(store.engine) as counts:
            job, _ = store.jobs.create_job(
                owner_id="local",
                pipeline=get_pipeline("transcribe"),
                source="https://example.com/a.mp3",
                options={},
            )
        seen["submit"] = counts
        with counting(store.engine) as counts:
            for owner in gathered.waiting_for:  # what Dispatcher.settled does after the submit's commit
                store.admission.admit_owner(owner)
        seen["admit after commit"] = counts
    with counting(store.engine) as counts:
        store.outbox.mark_sent([m.id for m in gathered.messages if m.job_id == job.id])
    seen["publish"] = counts
    with counting(store.engine) as counts:
        store.leases.mark_reserved("worker:1", job.id, "ingest")
    seen["mark reserved"] = counts
    with counting(store.engine) as counts:
        ingest = claim("ingest")
    seen["claim"] = counts
    with counting(store.engine) as counts:
        store.leases.renew_lease(ingest, 30)
    seen["renew lease"] = counts
    with counting(store.engine) as counts:
        store.stages.report_progress(ingest, 50.0, "half")
    seen["progress"] = counts
    with counting(store.engine) as counts:
        store.stages.complete_stage(ingest, {"media_key": "k"})
    seen["complete (hand on)"] = counts
    normalize = claim("normalize")
    with counting(store.engine) as counts:
        store.stages.fail_attempt(normalize, ErrorInfo(code="x", message="y"), retry_delay=0.0)
    seen["fail (retry)"] = counts
    store.stages.complete_stage(claim("normalize"), {"audio_key": "k"})
    transcribe = claim("transcribe")
    with counting(store.engine) as counts:
        store.stages.complete_stage(transcribe, {"segments": 1})
    seen["complete (last stage)"] = counts
    with counting(store.engine) as counts:
        store.admission.admit_if_waiting("local")  # after a stage's end, when nothing of the user waits
    seen["admit after, nothing waits"] = counts

    table = "\n".join(
        f"  {name:<24} {c.statements:>3} statements (before: {BEFORE[name][column]:>2}), {c.commits} commit"
        for name, c in seen.items()
    )
    print(f"\n{store.engine.dialect.name}, {policy}:\n{table}")
    no_commit = {"admit after, nothing waits", "admit after commit"}
    assert {name: c.as_tuple() for name, c in seen.items()} == {
        name: (budget[column], 0 if name in no_commit else 1) for name, budget in budget_table.items()
    }


def test_a_slot_passes_to_the_users_next_job_inside_the_commit_that_frees_it(
    pg_url: str, sqlite_url: str
) -> None:
    for url in (pg_url, sqlite_url):
        engine = create_db_engine(url)
        store = JobStore(engine, admission=AtMostInFlight(limit=1), pipelines=shipped_pipelines(noop=True))
        column = 0 if engine.dialect.name == "postgresql" else 1
        seen: dict[str, Counts] = {}
        submit = dict(
            owner_id="local", pipeline=store.pipelines.get_pipeline("noop"), source="noop://a", options={}
        )
        first, _ = store.jobs.create_job(**submit)  # type: ignore[arg-type]
        store.admission.admit_owner("local")
        second, _ = store.jobs.create_job(**submit)  # type: ignore[arg-type]
        with counting(engine) as counts:
            assert store.admission.admit_owner("local") == set()
        seen["admit, user at the limit"] = counts
        claim = store.stages.claim_stage(first.id, "noop", worker="w", lease_seconds=30)
        assert isinstance(claim, Claim)
        with counting(engine) as counts:
            store.stages.complete_stage(claim, {})
        seen["complete (last stage), slot passed"] = counts
        [waiting] = store.jobs.get_job(second.id).stages
        assert waiting.status.value == "queued"  # admitted in that commit, with its message:
        with store.outbox.outbox_batch(job_id=second.id) as batch:
            assert [m.stage for m in batch.messages] == ["noop"]
        commits = {name: 0 if "at the limit" in name else 1 for name in AT_THE_LIMIT}
        assert {name: c.as_tuple() for name, c in seen.items()} == {
            name: (budget[column], commits[name]) for name, budget in AT_THE_LIMIT.items()
        }
        engine.dispose()


def test_a_stage_that_hands_on_to_its_own_worker_claims_the_successor_in_the_same_round_trips(
    pg_url: str, sqlite_url: str
) -> None:
    """Sticky stages: complete + claim of the successor cost what a completion that hands on costs
    (the claim's two writes replace the successor's queued mark and its outbox row), and nothing
    follows: no "sent" mark, no reservation mark, no claim transaction (5 / 9 + 1 / 2 + 1 / 2 + 1 / 7)."""
    for url in (pg_url, sqlite_url):
        engine = create_db_engine(url)
        for policy in (None, FairShare()):
            store = JobStore(engine, admission=policy, pipelines=shipped_pipelines(noop=True))
            job, _ = store.jobs.create_job(
                owner_id="local",
                pipeline=get_pipeline("transcribe"),
                source="https://a.example/a.mp3",
                options={},
            )
            claim = store.stages.claim_stage(job.id, "ingest", worker="w", lease_seconds=30)
            assert isinstance(claim, Claim)
            follow = Follow(worker="w", lease_seconds=30, wants=lambda *_: True)
            with counting(engine) as counts:
                _, followed = store.stages.complete_and_follow(claim, {"media_key": "k"}, (), (), follow)
            assert followed is not None
            assert followed.stage.name == "normalize"
            assert counts.as_tuple() == ((5, 1) if engine.dialect.name == "postgresql" else (10, 1))
        engine.dispose()

"""Cutting long audio into chunks and merging their transcripts (stages/split.py, stages/merge.py)."""

from __future__ import annotations

import itertools
import uuid
from pathlib import Path
from typing import Any

from helpers.settings import make_settings
from mediajobs.domain import StageRun, StageStatus
from mediajobs.domain.transitions import job_progress
from mediajobs.pipelines import get_pipeline
from mediajobs.stages.merge import kept_segments, monotonic
from mediajobs.stages.split import parse_silences, plan_chunks
from mediajobs.store import Claim, JobStore


def _silences_every(seconds: float, until: float, length: float = 0.4) -> list[tuple[float, float]]:
    out = []
    t = seconds
    while t < until:
        out.append((t, t + length))
        t += seconds
    return out


def test_chunks_tile_the_audio_and_cut_in_the_middle_of_silences() -> None:
    silences = _silences_every(3.7, 600)
    chunks = plan_chunks(600.0, silences, target=150, overlap=0.5)

    assert len(chunks) == 4
    assert chunks[0].keep_start == 0.0
    assert chunks[-1].keep_end == 600.0
    for left, right in itertools.pairwise(chunks):
        assert left.keep_end == right.keep_start  # no gap, no overlap in what is kept
        assert left.cut == "silence"
        assert any(s < left.keep_end < e for s, e in silences)
        # the overlap stays inside the silence: pure padding, no speech read twice
        assert any(s <= right.start and left.end <= e for s, e in silences)
    assert all(c.start <= c.keep_start < c.keep_end <= c.end for c in chunks)
    assert [c.index for c in chunks] == [0, 1, 2, 3]


def test_without_silence_near_a_mark_the_cut_is_hard_with_a_real_overlap() -> None:
    chunks = plan_chunks(400.0, [], target=150, overlap=1.0)

    assert [c.cut for c in chunks] == ["hard", "hard", "end"]
    assert chunks[0].keep_end == 150.0
    assert chunks[0].end == 151.0
    assert chunks[1].start == 149.0


def test_short_audio_is_one_chunk() -> None:
    assert len(plan_chunks(200.0, [], target=150, overlap=0.5)) == 1


def test_silencedetect_metadata_is_parsed() -> None:
    lines = [
        "frame:12   pts:24576   pts_time:1.11456",
        "lavfi.silence_start=0.886667",
        "lavfi.silence_end=1.33805",
        "lavfi.silence_duration=0.451383",
        "lavfi.silence_start=-0.01",
        "lavfi.silence_end=0.5",
        "lavfi.silence_start=9.0",  # still silent at the end: no end, not a place to cut
    ]
    assert parse_silences(lines) == [(0.886667, 1.33805), (0.0, 0.5)]


def _segment(start: float, end: float, text: str, words: list[tuple[float, float, str]] | None = None) -> Any:
    item: dict[str, Any] = {"start": start, "end": end, "text": text}
    if words is not None:
        item["words"] = [{"start": s, "end": e, "word": w, "probability": 0.9} for s, e, w in words]
    return item


def test_a_chunk_keeps_only_its_own_part_on_the_files_clock() -> None:
    raw = [
        _segment(0.0, 0.4, "tail of the chunk before"),
        _segment(0.5, 10.0, "mine"),
        _segment(59.8, 60.5, "head of the next"),
    ]
    kept = kept_segments(raw, offset=100.0, keep=(100.45, 160.0), first=False, last=False)
    assert [(s.start, s.end, s.text) for s in kept] == [(100.5, 110.0, "mine")]
    first = kept_segments(raw, offset=0.0, keep=(0.0, 60.0), first=True, last=False)
    assert [s.text for s in first] == ["tail of the chunk before", "mine"]


def test_across_a_hard_cut_each_word_lands_on_one_side_only() -> None:
    words = [(8.0, 8.5, "walk"), (8.6, 9.4, "to"), (9.9, 10.5, "the"), (10.3, 11.0, "park")]
    left = kept_segments(
        [_segment(8.0, 11.0, "walk to the park", words)], offset=0.0, keep=(0.0, 10.0), first=True, last=False
    )
    right = kept_segments(
        [_segment(0.0, 3.0, "walk to the park", [(s - 8.0, e - 8.0, w) for s, e, w in words])],
        offset=8.0,
        keep=(10.0, 20.0),
        first=False,
        last=True,
    )
    assert [s.text for s in left] == ["walk to"]
    assert [s.text for s in right] == ["the park"]
    assert right[0].start == 9.9


def test_merged_segments_never_go_back_in_time() -> None:
    kept = kept_segments(
        [_segment(0.0, 5.0, "one"), _segment(4.0, 6.0, "two"), _segment(7.0, 6.5, "three")],
        offset=0.0,
        keep=(0.0, 10.0),
        first=True,
        last=True,
    )
    times = [(s.start, s.end) for s in monotonic(kept)]
    assert times == [(0.0, 5.0), (5.0, 6.0), (7.0, 7.0)]


def _runs(chunks: list[StageStatus], **declared: StageStatus) -> dict[str, StageRun]:
    job = uuid.uuid4()
    runs = {
        name: StageRun(job_id=job, name=name, kind="media", status=status)
        for name, status in declared.items()
    }
    for i, status in enumerate(chunks):
        name = f"chunk[{i}]"
        runs[name] = StageRun(
            job_id=job, name=name, kind="transcribe", status=status, parent="normalize", index=i
        )
    return runs


def test_progress_counts_finished_chunks_and_short_media_keeps_the_old_weights() -> None:
    pipeline = get_pipeline("transcribe")
    done, waiting = StageStatus.SUCCEEDED, StageStatus.PENDING
    no_chunks = _runs([], ingest=done, normalize=done)
    assert job_progress(pipeline, no_chunks.values()) == 25.0  # no chunks: the old weights
    half = _runs([done, waiting], ingest=done, normalize=done)
    assert job_progress(pipeline, half.values()) == round((2 + 5.5 * 0.5) / 8 * 100, 2)
    all_chunks = _runs([done, done], ingest=done, normalize=done)
    assert job_progress(pipeline, all_chunks.values()) == round((2 + 5.5) / 8 * 100, 2)


def test_stage_time_limits_grow_with_the_media(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    assert settings.time_limits_for("transcribe") == (3300, 3600)
    assert settings.time_limits_for("transcribe", 600.0) == (3300, 3600)  # ten minutes: the defaults
    soft, hard = settings.time_limits_for("chunk[3]", 3 * 3600.0)  # three hours
    assert hard == 3 * 3600 * 2
    assert 0 < hard - soft <= hard // 12


def test_a_stage_limit_the_operator_set_is_kept_as_given(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, MEDIAJOBS_STAGE_TIME_LIMITS={"transcribe": 7200})
    assert settings.time_limits_for("transcribe", 3 * 3600.0) == (6600, 7200)
    assert settings.time_limits_for("normalize", 3 * 3600.0)[1] == 3 * 3600 * 2


def test_the_messages_after_normalize_carry_the_media_length_their_time_limits_grow_with(
    store: JobStore, tmp_path: Path
) -> None:
    from mediajobs.queue.publisher import CeleryPublisher
    from mediajobs.registry import build_registry

    job, _ = store.jobs.create_job(
        owner_id="local", pipeline=get_pipeline("transcribe"), source="https://example.com/a.mp3", options={}
    )
    with store.outbox.outbox_batch() as batch:
        assert [m.media_seconds for m in batch.messages] == [None]  # not measured yet
        batch.sent.extend(m.id for m in batch.messages)
    for stage, output in (("ingest", {"media_key": "k"}), ("normalize", {"duration": 3 * 3600.0})):
        claim = store.stages.claim_stage(job.id, stage, worker="w:1", lease_seconds=30)
        assert isinstance(claim, Claim)
        store.stages.complete_stage(claim, output)
    with store.outbox.outbox_batch() as batch:
        (message,) = [m for m in batch.messages if m.stage == "transcribe"]
    assert message.media_seconds == 3 * 3600.0
    sent: list[dict[str, Any]] = []

    class App:
        def send_task(self, *args: Any, **kwargs: Any) -> None:
            sent.append(kwargs)

    assert message.pipeline == "transcribe"
    CeleryPublisher(App(), build_registry(make_settings(tmp_path)).time_limits).publish(message)
    assert sent[0]["time_limit"] == 3 * 3600 * 2

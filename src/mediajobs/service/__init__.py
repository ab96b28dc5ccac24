"""The application layer: the use cases every front door calls (the HTTP routes, the CLI through
them, and next the OpenAI-compatible routes, batches and the dashboard).

    submit(services, caller, request)          check and write a job; admit and publish its first stages
    cancel(services, caller, job_id)           stop a job; its slots go to the owner's waiting work
    retry(services, caller, job_id)            run a failed or cancelled job again from where it stopped
    delete_job / delete_upload(services, caller, id)  remove one's own files; their bytes are released
    rerun(services, caller, job_id, ...)       a new job re-running an old one from one of its stages
    wait_until_done(services, caller, job_id)  the job once it has ended (or after a timeout)
    redeliver(services, caller, delivery_id)   send a webhook again now (same webhook-id and body)
    enable_endpoint(services, caller, id)      deliver again to an endpoint that answered 410
    retry_all(services, caller, job_filter)    retry every failed job a search matches (the dashboard)
    pause_lane / resume_lane(services, caller, lane)  admission into a lane stops / starts (admins)

Each writes through the store and then settles what its commits left to do in one place
(`Dispatcher.settled`: publish the messages, admit the waiting stages), so no route has to remember to.
"""

from __future__ import annotations

from .actions import cancel, retry
from .deliveries import enable_endpoint, redeliver
from .operations import RetryAll, count_retryable, pause_lane, resume_lane, retry_all
from .removal import delete_job, delete_upload
from .rerun import rerun
from .submit import SubmitRequest, announce, discard_upload, request_hash, submit
from .texts import store_text
from .wait import wait_until_done

__all__ = [
    "RetryAll",
    "SubmitRequest",
    "announce",
    "cancel",
    "count_retryable",
    "delete_job",
    "delete_upload",
    "discard_upload",
    "enable_endpoint",
    "pause_lane",
    "redeliver",
    "request_hash",
    "rerun",
    "resume_lane",
    "retry",
    "retry_all",
    "store_text",
    "submit",
    "wait_until_done",
]

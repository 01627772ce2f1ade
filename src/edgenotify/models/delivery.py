"""Delivery shapes of the API: attempt history, recovery requests and results."""

from typing import Literal

from pydantic import BaseModel, Field, field_validator

from edgenotify.http.validation import StrictModel
from edgenotify.models.channels import Channel
from edgenotify.models.common import PATH_PARAMS
from edgenotify.models.notifications import NotificationItem, _iso
from edgenotify.notify.delivery.recovery import MAX_BULK


class AttemptOut(BaseModel):
    attempt: int = Field(description="1-based, over the message's whole life (recoveries continue the count)")
    started_at: str = Field(description="When the attempt started (ISO-8601 UTC)")
    duration_ms: int = Field(description="How long it took, answer body included")
    status_code: int | None = Field(description="The receiver's HTTP status; null when there was no answer")
    outcome: Literal["succeeded", "retrying", "failed"] = Field(description="What this attempt led to")
    error_class: str | None = Field(
        description="http_status, redirect, body_error, aborted, timeout, network, refused_url, no_config,"
        " channel_disabled, config_unavailable or internal; null on success"
    )
    error: str | None = Field(description="What went wrong, credentials masked; null on success")
    response_excerpt: str | None = Field(description="Up to 1 KB of the answer's body, secrets scrubbed")


class NotificationDetail(NotificationItem):
    attempts: list[AttemptOut] = Field(description="Every attempt, oldest first")


class RetryResult(BaseModel):
    message_id: str = Field(description="The same message id (and webhook-id) as the first send")
    status: Literal["pending"] = Field(description="Pending again: delivered after this response")
    attempt: int = Field(description="The number the new attempt will have in the history")


class RecoverRequest(StrictModel):
    """Which failed messages to recover: created in [since, until), optionally one user / channel."""

    since: str = Field(description="Created at or after (ISO-8601)")
    until: str | None = Field(None, description="Created before (ISO-8601)")
    user_id: str | None = Field(
        None, min_length=1, max_length=128, pattern=PATH_PARAMS["user_id"].pattern, description="Only this user's"
    )
    channel: Channel | None = Field(None, description="Only messages to this channel")
    limit: int = Field(100, ge=1, le=MAX_BULK, description="At most this many messages per call")
    cursor: str | None = Field(None, pattern=r"^[0-9]{1,19}$", description="next_cursor of the previous call")

    @field_validator("since", "until")
    @classmethod
    def _times(cls, value: str | None) -> str | None:
        return _iso(value)


class RecoverResult(BaseModel):
    recovered: int = Field(description="How many failed messages this call set pending again")
    message_ids: list[str] = Field(description="Set pending and due now: the retry cron delivers them")
    next_cursor: str | None = Field(description="Pass as cursor to continue; null when nothing is left")

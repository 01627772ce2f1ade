"""Delivery shapes of the API: attempt history, recovery requests and results."""

from typing import Literal

from pydantic import BaseModel, Field

from edgenotify.models.notifications import NotificationItem


class AttemptOut(BaseModel):
    attempt: int = Field(description="1-based, over the message's whole life (recoveries continue the count)")
    started_at: str
    duration_ms: int
    status_code: int | None = Field(description="The receiver's HTTP status; null when there was no answer")
    outcome: Literal["succeeded", "retrying", "failed"] = Field(description="What this attempt led to")
    error_class: str | None = Field(
        description="http_status, redirect, body_error, aborted, timeout, network, refused_url, no_config,"
        " channel_disabled, config_unavailable or internal; null on success"
    )
    error: str | None
    response_excerpt: str | None = Field(description="Up to 1 KB of the answer's body, secrets scrubbed")


class NotificationDetail(NotificationItem):
    attempts: list[AttemptOut] = Field(description="Every attempt, oldest first")

"""The Voicenter Dialer API: a typed client, its retry policy and its result models."""

from __future__ import annotations

from importer.dialer.client import DEFAULT_POOL_MAXSIZE, METHODS, READ_METHODS, DialerClient
from importer.dialer.models import (
    AddResult,
    CallTarget,
    Campaign,
    CampaignDetails,
    Member,
    PendingCall,
    PendingCalls,
)
from importer.dialer.retry import (
    DEFAULT_RETRY_POLICY,
    RetryPolicy,
    build_retrying,
    is_retryable,
    parse_retry_after,
)

__all__ = [
    "DEFAULT_POOL_MAXSIZE",
    "DEFAULT_RETRY_POLICY",
    "METHODS",
    "READ_METHODS",
    "AddResult",
    "CallTarget",
    "Campaign",
    "CampaignDetails",
    "DialerClient",
    "Member",
    "PendingCall",
    "PendingCalls",
    "RetryPolicy",
    "build_retrying",
    "is_retryable",
    "parse_retry_after",
]

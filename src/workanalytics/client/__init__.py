"""Clients of Work Analytics: 8x8's API at ``https://api.8x8.com/analytics/work`` or a
workanalytics server, blocking (:class:`Client`) or asyncio (:class:`AsyncClient`).

Both reuse one token until shortly before it expires (optionally across processes through
an on-disk :class:`TokenCache`), log in again once when a token is refused, retry 429, 5xx
and connection failures under one :class:`RetryPolicy`, and raise one exception class per
kind of error answer. See ``docs/client.md``.
"""

from workanalytics.client.async_ import AsyncClient
from workanalytics.client.auth import Token, TokenCache, default_cache_path
from workanalytics.client.base import DEFAULT_BASE_URL
from workanalytics.client.errors import (
    AccessDeniedError,
    APIConnectionError,
    APIError,
    AuthenticationError,
    InvalidApiKeyError,
    InvalidGrantError,
    InvalidParameterError,
    InvalidTokenError,
    RateLimitedError,
    ServerError,
    TokenExpiredError,
    WorkAnalyticsError,
)
from workanalytics.client.periods import EVERY, Period, split_periods
from workanalytics.client.retry import NO_RETRIES, RetryPolicy
from workanalytics.client.rows import ExtensionSummaryRow
from workanalytics.client.sync import Client

__all__ = [
    "DEFAULT_BASE_URL",
    "EVERY",
    "NO_RETRIES",
    "APIConnectionError",
    "APIError",
    "AccessDeniedError",
    "AsyncClient",
    "AuthenticationError",
    "Client",
    "ExtensionSummaryRow",
    "InvalidApiKeyError",
    "InvalidGrantError",
    "InvalidParameterError",
    "InvalidTokenError",
    "Period",
    "RateLimitedError",
    "RetryPolicy",
    "ServerError",
    "Token",
    "TokenCache",
    "TokenExpiredError",
    "WorkAnalyticsError",
    "default_cache_path",
    "split_periods",
]

"""The web app's runtime state: one object on the app, reached through :func:`state_of`.

Everything a running app keeps between requests sits on :class:`WebState`, built once by
:func:`newsletter.web.create_app` (nothing is made lazily on first use, so no request
races another to make it): the service :class:`~newsletter.context.Context`, the feed
cache, the page cache, the login pool, the roster imports in flight, the feed request counts and the
metrics registry. The process's own state (scheduler, manual sends, send pace) is on the
Context. No module keeps mutable state of its own.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from newsletter.store.db import utcnow
from newsletter.web.chartcache import TimedValue

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry

    from newsletter.context import Context
    from newsletter.metrics import FeedRequests
    from newsletter.web.feeds import FeedCache
    from newsletter.web.hashpool import BoundedPool
    from newsletter.web.import_jobs import ImportJobs
    from newsletter.web.pages import PageCache


@dataclass
class WebState:
    context: Context
    feed_cache: FeedCache  # thread-safe: one lock per feed
    login_pool: BoundedPool  # thread-safe: a semaphore in front of an executor
    imports: ImportJobs  # guarded by its lock
    feed_requests: FeedRequests  # guarded by its lock
    metrics: CollectorRegistry  # reads the store and feed_requests at scrape time
    page_cache: PageCache  # thread-safe: a lock for its writes, one per page for renders
    clock: Callable[[], datetime] = utcnow  # session decisions; tests set their own
    dashboard_charts: TimedValue[Any] = field(default_factory=TimedValue)  # see chartcache


def state_of(app: Any) -> WebState:
    """The state of ``app`` (the FastAPI app, e.g. ``request.app`` or ``scope["app"]``)."""
    state: WebState = app.state.web
    return state

"""The web app: public pages and feeds, subscriptions, admin pages and JSON API."""

from newsletter.web.app import create_app

__all__ = ["create_app"]

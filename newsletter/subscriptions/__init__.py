"""Subscriptions: the plan_* deciders (``rules``), acting on them (``service``),
partner rosters as CSV (``roster``), signed links (``tokens``).
"""

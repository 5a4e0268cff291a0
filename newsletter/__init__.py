"""newsletter: regional news syndication for the Saxon crime-prevention network.

Collects news items, assigns them to regions, publishes feeds per region and sends
an email digest per region to the municipal partners who subscribed to it.
"""

__version__ = "0.1.0"

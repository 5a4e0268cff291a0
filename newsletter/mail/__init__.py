"""Everything from a digest to bytes on the wire.

``outbox`` (enqueue, claim, leases, retries) → ``sending`` (the one send path for the
schedule, the CLI, the admin and the API) → ``compose`` (one message per recipient,
through ``mailmerge`` and ``personalise``; ``messages`` for transactional mails) →
``transports`` (SMTP, Maildir, memory); ``recorder`` commits sent marks, ``replies``
classifies SMTP replies, ``ratelimit`` paces a worker.
"""

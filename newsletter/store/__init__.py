"""All SQL of the service lives in this package, one module per noun.

Every function takes a SQLAlchemy ``Connection`` (the caller owns the transaction,
see :func:`newsletter.store.db.transaction`) and returns plain models.
"""

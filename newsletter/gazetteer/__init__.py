"""Packaged gazetteer data: municipalities, Verwaltungsverbände and hand-kept variants.

Data only (see SOURCE.md); the rules that build name variants live in ``build.py``.
"""

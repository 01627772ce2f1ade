"""The migration lifecycle on the edge: files, wrangler's ledger, and the dev auto-migrator.

``migrations/*.sql`` at the repository root is the only source of the schema. The edge bundle
reads it through ``_bundle.py``, generated from that directory by ``scripts/build_bundle``
(wrangler's ``[build]`` command), so the deployed SQL is always the committed SQL.
"""

"""The migration lifecycle CLI: ``python -m devkit.migrate`` / ``scripts/migrate``.

Design decisions:

* One source, one ledger. The SQL comes from ``migrations/*.sql`` and goes into wrangler's
  own ``d1_migrations`` table (plus our ``d1_migrations_checksums`` side table), so
  ``wrangler d1 migrations apply``, the worker's dev auto-migrator and this CLI can each
  finish what another started.
* The CLI mirrors the library one to one (like sqlite-utils): ``apply`` is
  ``edgenotify.migrations.automigrate.apply_pending``, ``status`` is
  ``edgenotify.migrations.status.compare``; it talks to SQLite only through the embedded D1
  binding wrapped in ``edgenotify.db.Database``, so it runs the code the worker runs.
* Read-only commands stay read-only: ``status`` and ``verify`` never create the ledger
  tables (``ledger.read_if_present``) nor the database file.
* ``verify`` builds the expected schema by applying the migrations to an in-memory database
  with the same binding and compares facts (``pragma_*``), not SQL text.
* ``baseline`` refuses to record files as applied when the live schema is not what they
  produce (``--force`` overrides): a baseline that lies would make every later check lie.
* Edits are caught twice: the checksum recorded at apply time (``status``: edited) and the
  committed ``migrations/migrations.sum`` (format and module owned by ``devkit.lint``).
* ``apply`` applies even when migrations.sum is stale and reports it as a warning; gating
  edits of committed migrations is the linter's job in CI.
"""

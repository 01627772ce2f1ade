"""Long operations as resumable jobs: backup and restore, checkpointed in ``ops_jobs``.

``usecases`` is the one entry point (admin API, crons and CLIs call it); ``backup`` and ``restore``
are the step engines; ``budget`` sizes a step from the invocation's limits; ``store`` is the
checkpoint table; ``upload`` and ``chunks`` write one R2 object across invocations; ``marker``
tells client routes and crons that a restore is replacing the data; ``audit`` records outcomes.
"""

"""Backup and restore: the SQL dump format, manifests, reading and writing backup objects, the
one-shot engines the jobs (``ops.jobs``) build on."""

"""Notification domain logic, pydantic-free (delivery and the parity runtime import it).

Interfaces the send path relies on (names are stable):

* :func:`edgenotify.notify.configs.load_active_configs` — a user's active channel configs (KV first);
* :func:`edgenotify.notify.templates.load_template` — a template with variables and contents (KV first);
* :func:`edgenotify.notify.render.render` / :func:`~edgenotify.notify.render.render_inline` — substitution
  with per-content-type escaping, :class:`~edgenotify.notify.render.RenderError` (422) on bad variables;
* :func:`edgenotify.notify.ssrf.check_url` — the outbound URL policy;
* :func:`edgenotify.audit.audit_query` — an audit row to put in the same batch as a write.

Config encryption uses the runtime's WebCrypto (:mod:`edgenotify.notify.crypto`), no compiled package.
"""

"""pydantic models of every request and response body, shared by the handlers and ``/openapi.json``.

One module per resource (``channels``, ``templates``, ``notifications``) plus ``common`` (errors,
path parameters). pydantic is confined to this package, ``http/validation.py`` and ``api/``.
"""

"""Operations on the D1 database: backup, restore, retention, maintenance, health, diagnostics.

Everything here except what ``api/admin.py`` needs for request bodies is pure Python (no
pydantic, no cryptography): the parity runtime runs backup, restore and maintenance under
Pyodide, which offline can only load pure-Python code. D1 is reached only through
``edgenotify.db.Database`` and R2 only through the binding's Workers API shape.
"""

"""D1-aware migration linter (sqlglot, SQLite dialect) and the migrations.sum integrity file."""

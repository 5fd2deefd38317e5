"""Persistence: engine and transactions, column types, ORM models, repositories, migrations."""

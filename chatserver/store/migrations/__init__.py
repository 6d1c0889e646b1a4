"""Alembic migrations of the store's tables, run by ``chatserver.store.migrate.upgrade``."""

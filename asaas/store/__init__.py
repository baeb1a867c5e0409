"""The database: schema, the Store object (engine, transactions, bulk writes) and migrations."""

from asaas.store.store import Store, open_store

__all__ = ["Store", "open_store"]

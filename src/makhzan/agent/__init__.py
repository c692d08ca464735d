"""The terminal agent (``makhzan agent``): on the POS PC, a local copy of the catalog in SQLite,
the outbox of sales taken while central is unreachable, the sync loop, and the local API."""

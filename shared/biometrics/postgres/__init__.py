"""The PostgreSQL (pgvector) gallery store: galleries searched in the database, not in memory.

- ``schema.sql``: the one table layout (docs/galleries-postgres.md).
- ``connection``: the process's connection pool (local URI or Microsoft Entra token).
- ``search``: ``PgCohort``, identify and verify computed in the database.
- ``store``: galleries, persons and faces in transactions (the facade's ``postgres`` backend).
"""

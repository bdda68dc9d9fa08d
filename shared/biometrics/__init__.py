"""Biometric data at rest: every stored face template, and the one way to erase it.

- ``templates``: how a template is stored (float32 bytes + model id).
- ``faceids``: templates of detected faces, kept 24 hours (``/detect?returnFaceId``).
- ``store``: galleries, persons and enrolled faces, in the store the customer's registry
  record names (the only module callers use); ``records`` holds what every store returns.
- ``table_store``: the Table store (Azure Tables, conditional writes so an erasure is final
  under any concurrency), with ``index``, its in-process identify index.
- ``postgres``: the PostgreSQL store (pgvector; searched in the database).
- ``transfer``: a gallery as it moves between stores.
- ``edits``, ``training``: Azure Face's PATCH routes and training operations.

Every Table erasure and purge deletes through ``shared.storage.rows`` (the one delete path).
"""

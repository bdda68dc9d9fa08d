"""Biometric data at rest: every stored face template, and the one way to erase it.

- ``templates``: how a template is stored (float32 bytes + model id).
- ``faceids``: templates of detected faces, kept 24 hours (``/detect?returnFaceId``).
- ``store``: galleries, persons and enrolled faces in Azure Tables, with conditional
  writes so an erasure is final under any concurrency.
- ``index``: the in-process identify index, bounded per customer.
- ``edits``, ``training``: Azure Face's PATCH routes and training operations.

Every erasure and purge deletes through ``shared.storage.rows`` (the one delete path).
"""

"""The operators' console: everything behind functions/console.py except HTTP itself.

- ``operators``: local credentials, Entra principals, sessions, CSRF tokens.
- ``customers``: the list, one record (keys by id only), the review queue.
- ``changes``: every change an operator makes, recorded (who, why, before, after) first.
- ``auditview``: the audit browser, one decision with its policies, CSV export.
- ``erasure``: an operator erases a customer's galleries.
- ``policies``: the Cedar files, read-only.
- ``web``: the static page, its security headers and the session cookie.
"""

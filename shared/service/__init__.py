"""Use cases shared by the HTTP and blob functions: each one asks the gate before any work.

Every function takes the ``Caller`` (the customer and the request context) first,
and its first statement is a policy decision; nothing is decoded, analysed or
read from a gallery before an allow.
"""

"""A local stand-in for `func start`: serves a Python v2 FunctionApp from its own metadata.

Functions Core Tools cannot be installed on our machines, so this package loads
the FunctionApp object, indexes it the way the Python worker does, and runs its
HTTP, blob and timer triggers against Azurite with the host's semantics.
See tools/devhost/README.md for usage and every known difference from the real host.
"""

"""The FaceGate admin CLI: customers, keys, audit and policy checks (`python -m tools.admin`)."""

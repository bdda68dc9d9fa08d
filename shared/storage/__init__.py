"""Storage access: clients built from settings, and the names of what we store."""

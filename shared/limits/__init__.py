"""Per-customer rate limits, counted in storage so they hold across instances (see quota)."""

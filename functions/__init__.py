"""Azure Functions blueprints: one per area, translating between Functions and shared/."""

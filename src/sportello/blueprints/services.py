"""blueprints: services."""

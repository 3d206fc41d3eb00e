"""blueprints: models."""

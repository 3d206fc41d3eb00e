"""blueprints: selectors."""

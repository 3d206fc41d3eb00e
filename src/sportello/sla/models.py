"""sla: models."""

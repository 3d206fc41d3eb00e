"""sla: services."""

"""sla: selectors."""

"""The outbox's API: deliveries (`deliveries`) and webhook secrets (`secrets`)."""

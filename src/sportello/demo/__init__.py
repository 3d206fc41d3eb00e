"""Demo data: a believable desk (departments, agents, customers, a thousand conversations)
loaded through the real services and the one change pipeline."""

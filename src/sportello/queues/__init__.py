"""Queues: saved views of tickets (a condition in the rules' language, columns, a sort), their live
counts, the dense ticket table agents land on, and bulk changes from it."""

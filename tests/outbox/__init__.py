"""Tests of the outbox (`sportello.outbox`). A package: its modules import one another
(`outbox.hook_server`), by the same name for pytest and the type checker."""

"""Tests of the mail intake (`sportello.channels`). A package: its modules import one another
(`channels.test_inbound`), by the same name for pytest and the type checker."""

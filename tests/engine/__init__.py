"""Tests of the pure engine (`sportello.engine`), run without Django too. A package: its modules
import one another (`engine.test_sla`), by the same name for pytest and the type checker."""

"""The pure core: plain data in, plain data out. No Django, no clock, no I/O."""

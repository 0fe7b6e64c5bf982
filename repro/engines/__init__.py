"""Container engines: the interface the core asks of one, its Docker implementation,
and the clean-up after a repro process that was killed."""

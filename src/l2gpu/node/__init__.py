"""Node shells: the sequencer (and, later, the batch poster and the watcher)."""

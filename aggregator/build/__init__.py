"""The build frame and its run: lock, transaction, the no-change shortcut, and
the stages of a run (collect, fetch, rank, plan, write, announce)."""

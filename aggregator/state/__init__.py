"""The state file: one SQLite database that owns the build's caches and history."""

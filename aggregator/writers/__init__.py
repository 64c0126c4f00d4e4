"""Writers: Articles and feed listings -> bytes (pure functions)."""

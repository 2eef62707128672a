"""Core commands (filled in next)."""

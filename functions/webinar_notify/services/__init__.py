"""Use cases: each composes the pure core with the ports it is given (never builds its own)."""

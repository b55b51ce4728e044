"""Pure rules and models. No I/O, no Matrix, no SQLite."""

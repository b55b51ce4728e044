"""Flurfunk's test suites; a package so that `tests.support` is importable from the suites
and from `bench/` (run as `python -m bench.<name>` from the repository root)."""

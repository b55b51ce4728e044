"""Benchmarks; run each from the repository root as a module, e.g. `python -m bench.fanout`,
so that `bot` and the test kit (`tests.support`) import without path edits."""

"""Everything Matrix: sync loop, outbox sender, rooms and DMs, rendering, dispatch."""

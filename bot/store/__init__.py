"""Persistence: aiosqlite connection, migrations and one repository per aggregate."""

"""Persistence: the database (SQLite or PostgreSQL), migrations and one repository per
aggregate."""

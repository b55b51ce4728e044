"""Flurfunk: a Matrix bot that rebuilds the informal networks of municipal administrations."""

__version__ = "0.1.0"

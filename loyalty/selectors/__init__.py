"""Reads of the loyalty program, one module per concern; querysets carry their joins."""

"""Restore tests use the stores and the realistic namespace of tests/conftest.py."""

"""Tests of the C backend (run by pytest from the repository root)."""

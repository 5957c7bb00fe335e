"""Tests of the x86-64 backend (run by pytest from the repository root)."""

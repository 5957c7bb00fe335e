"""Example interpreters written with tracejit's JIT hints (see README.md)."""

"""minilang: a small language, its compiler and its VM with JIT hints."""

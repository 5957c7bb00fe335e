"""A Brainfuck interpreter with JIT hints (bf.py)."""

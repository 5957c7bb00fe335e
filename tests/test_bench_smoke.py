"""Each benchmark computes the same result under the JIT (every backend) as
under plain CPython, on a small workload; its full answers are checked in
bench/run.py.  No timing here: speed is measured by bench/run.py only."""

from __future__ import annotations

import os
import sys

import pytest

import tracejit

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(__file__)), "bench"))

import cold  # noqa: E402
import intloop  # noqa: E402
import mandelbrot  # noqa: E402
import matmul  # noqa: E402
import spectral_norm  # noqa: E402
import text_dict  # noqa: E402

SMALL = [
    ("mandelbrot", lambda: mandelbrot.mandelbrot(40, 30, 50)),
    ("intloop", lambda: intloop.intloop(5000)),
    ("matmul", lambda: matmul.matmul(matmul.make(15, 1), matmul.make(15, 2), 15)),
    ("spectral_norm", lambda: spectral_norm.spectral_norm(30)),
    ("text_dict", lambda: text_dict.text_dict(3000)),
    ("cold", lambda: cold.cold(50, 2)),
]


@pytest.mark.parametrize("backend", tracejit.backend_names())
@pytest.mark.parametrize("name,run", SMALL, ids=[s[0] for s in SMALL])
def test_benchmark_result_is_unchanged(name, run, backend):
    if backend not in tracejit.available_backends():
        pytest.skip(f"{backend} not usable here")
    expected = run()
    tracejit.reset()
    tracejit.set_param(backend=backend, threshold=5, bridge_threshold=3,
                       background_compile=0)
    tracejit.enable()
    try:
        got = run()
    finally:
        tracejit.disable()
    assert got == expected


def test_quick_answers_are_the_recorded_ones():
    assert mandelbrot.main("quick") == mandelbrot.EXPECTED["quick"]
    assert spectral_norm.main("quick") == spectral_norm.EXPECTED["quick"]

"""Tools for testing tracejit and its backends, shipped for users too.

* :mod:`tracejit.testing.conformance` -- the IR-level suite every backend
  must pass (``backend_suite(name)``).
* :mod:`tracejit.testing.oracle` -- run a function with and without the JIT
  and compare everything observable.
* :mod:`tracejit.testing.programs` -- hypothesis strategies producing random
  loop programs with type and value schedules (the guard fuzzer).
"""

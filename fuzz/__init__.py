"""Coverage-guided fuzzing harnesses (atheris) for the parts that read network input.

Each `fuzz_<target>.py` has a pure-Python `check(data: bytes) -> None` that raises on a
violated property, and a `main()` that runs it under libFuzzer:

    .venv/bin/python -m fuzz.fuzz_cookie -max_total_time=60 build/fuzz/cookie fuzz/corpus/cookie

`make fuzz` runs all four; tests/test_fuzz.py replays the corpora and regressions without
atheris. See docs/fuzzing.md.
"""

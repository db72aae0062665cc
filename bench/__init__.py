"""Load benchmarks, run against a production server process (see bench/README.md)."""

"""Benchmarks of the provider and the emulator, as ratios measured side by side (see docs/benchmarks.md)."""

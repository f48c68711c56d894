"""Engines: pure torch/numpy, never Qt. Each takes a parameters dataclass and yields events."""

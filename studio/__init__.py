"""studio: classic neural image techniques as an interactive tool for artists."""

__version__ = "0.1.0"

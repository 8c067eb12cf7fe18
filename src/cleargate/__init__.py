"""cleargate: decide, with evidence, which model is allowed into production."""

__version__ = "0.1.0"

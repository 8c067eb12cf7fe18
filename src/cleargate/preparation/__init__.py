"""Data made ready for models: the immutable raw file, cleaning, the seeded split."""

"""Stream processor benchmark: ``python bench/processor/run.py``."""

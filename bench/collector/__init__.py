"""Collector benchmark: ``python bench/collector/run.py``."""

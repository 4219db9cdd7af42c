"""Benchmarks of the privacy and usage API."""

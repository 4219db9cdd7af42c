"""Benchmarks, each printing figures against a baseline and a calibration from the same run."""

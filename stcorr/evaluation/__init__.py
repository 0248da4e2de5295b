"""Evaluation: scoring predictions on a benchmark, and running methods over its pairs."""

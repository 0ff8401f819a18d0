"""Evaluation: golden sets, grading, metrics and reports."""

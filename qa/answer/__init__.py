"""Answering: question analysis, candidate answers, extraction, follow-ups."""

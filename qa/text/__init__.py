"""Text: normalisation, document structure, chunking, typo correction."""

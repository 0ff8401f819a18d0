"""Retrieval: embeddings, the index on disk, dense and lexical search."""

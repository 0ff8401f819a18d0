"""The library's error hierarchy: every expected failure is a QAError with a one-line message."""

from __future__ import annotations


class QAError(Exception):
    """Base of every expected error; the CLI prints its message and exits non-zero."""


class SettingsError(QAError):
    """A setting has an invalid value."""


class CorpusError(QAError):
    """A corpus file is missing, binary, mis-encoded or empty."""


class IndexMissingError(QAError):
    """No index has been built yet."""


class IndexMismatchError(QAError):
    """The index on disk was built with another model, chunking or format."""


class IndexWriteError(QAError):
    """The index cannot be written (disk full, read-only folder, a file where a folder should be)."""


class IndexCorruptError(QAError):
    """The index on disk cannot be read."""


class ModelLoadError(QAError):
    """The embedding model cannot be loaded or converted."""


class QuestionError(QAError):
    """The question is empty, too long or not text."""


class VectorStoreError(QAError):
    """The vector store (QA_VECTOR_STORE) is malformed, cannot be reached or fails a request."""

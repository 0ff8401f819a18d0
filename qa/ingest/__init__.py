"""Reading policy documents into clean text with metadata."""

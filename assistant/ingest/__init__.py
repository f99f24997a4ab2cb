"""Turning files into Documents and Documents into Chunks."""

from .chunking import chunk_document
from .documents import SUPPORTED_SUFFIXES, doc_id_for, load_document

__all__ = ["SUPPORTED_SUFFIXES", "chunk_document", "doc_id_for", "load_document"]

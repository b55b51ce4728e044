"""Similarity by meaning: embedding vectors of what people wrote, compared at scale."""

from bot.domain.semantic.index import EmbeddingIndex, EmbeddingSimilarity

__all__ = ["EmbeddingIndex", "EmbeddingSimilarity"]

"""Routers: each maps prompts (or their embeddings) to P(strong model beats weak model)."""

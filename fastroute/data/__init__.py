"""Battle and evaluation data: readers for the formats RouteLLM's users have."""

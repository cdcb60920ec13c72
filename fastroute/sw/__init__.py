"""The similarity-weighted Elo math behind the sw_ranking router."""

"""fastroute on a Ray cluster: batch scoring with Ray Data, serving with Ray Serve, and an
sw_ranking arena sharded across actors. Nothing here is imported by `import fastroute`;
each module imports ray when used (the `ray` extra)."""

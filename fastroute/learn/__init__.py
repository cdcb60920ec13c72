"""`fastroute learn`: a router for your own traffic. Your prompts are sampled and split,
answered by your strong and weak models, each pair labelled by a judge model (both orders)
or a grader, and routers trained, chosen and evaluated on the part held out (see steps.py)."""

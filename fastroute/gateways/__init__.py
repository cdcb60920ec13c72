"""Deprecated: the gateway adapters are front doors now (fastroute.frontends). Only the
LiteLLM plug-in's old path, which LiteLLM proxy configs name, is kept here."""

"""Automated allocation: trace-driven cluster simulator, policies, own-vs-rent."""

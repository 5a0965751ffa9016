"""Airdrops to early adopters, pure: eligibility rules, identities, trees, claims."""

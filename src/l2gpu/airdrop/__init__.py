"""Airdrops to early adopters: eligibility, private claims, erasable personal data."""

"""The Plasma child chain's operator: its log, its API and its client."""

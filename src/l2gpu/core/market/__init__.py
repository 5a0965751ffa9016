"""The GPU market, pure: offers, the filter language, matching, leases, metering, reputation.

- :mod:`.offers` — EIP-712 signed offers and their validation
- :mod:`.query` — the filter language (tokenizer, parser, clear evaluator)
- :mod:`.index` — the columnar search index (the fast evaluator)
- :mod:`.matching` — a renter's request to the best offers
- :mod:`.lease` — the lease state machine and what a renter signs for
- :mod:`.metering` — usage samples to billable GPU-seconds
- :mod:`.reputation` — reliability and uptime from lease outcomes
"""

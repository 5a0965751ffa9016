"""The GPU market, pure: offers, the filter language, matching, leases, metering, reputation.

- :mod:`.offers` — EIP-712 signed offers and their validation
- :mod:`.fields`, :mod:`.query` — the filter language (fields; tokenizer, parser, clear evaluator)
- :mod:`.index` — the columnar search index (the fast evaluator)
- :mod:`.matching`, :mod:`.performance` — a renter's request to the best offers
- :mod:`.lease` — the lease state machine; :mod:`.billing` — what a renter signs for
- :mod:`.metering` — usage samples to billable GPU-seconds
- :mod:`.reputation` — reliability and uptime from lease outcomes
- :mod:`.signin` — EIP-4361 sign-in messages
- :mod:`.view` — what a search sees of an offer
"""

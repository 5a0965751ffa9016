"""The market API: a thin FastAPI shell over :class:`~l2gpu.api.service.MarketService`.

create_app(service)  -> FastAPI app (OpenAPI at /docs)
MarketService        -> offers, leases, jobs, providers, accounts, in the database
"""

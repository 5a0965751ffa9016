"""What every l2gpu HTTP server shares: the request guard, one error shape, and how
long an idle connection is kept."""

KEEP_ALIVE_S = 20
"""Seconds a server keeps an idle keep-alive connection. Longer than clients keep one
(httpx: 5 s), so that the client always closes first: a server that closes a
connection while a client sends its next request on it makes that request fail with
a reset (seen under load in ``l2gpu bench designs`` at uvicorn's default of 5 s)."""

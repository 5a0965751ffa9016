"""The web console (issue 21): ``l2gpu web``, a browser front end over the market API.

Server-rendered pages (Jinja2) that htmx (from the npm registry, installed by
``make tools``; no CDN at run time) makes live where it is present, and that work
as plain forms and links where it is not. The console is a client of the market
like the CLI: it holds no market state, signs users in with EIP-4361 through the
market, and keeps their tokens server-side behind an HttpOnly, SameSite=Strict
cookie. See docs/console.md.
"""

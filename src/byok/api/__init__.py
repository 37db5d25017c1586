"""byok.api: the REST API (FastAPI) over the vendor service (docs/API.md).

::

    create_app(vendor, monitor=...)   the ASGI application
    serve(host, port)                 uvicorn on embedded defaults (``byok serve``)
    byok.api.auth                     bearer tokens, roles, tenant scope
    byok.api.problems                 errors as RFC 9457 problem bodies (byok.errors table)
    byok.store.tokens                 hashed token storage; mint_token (``byok token create``)
"""

from byok.api.app import create_app
from byok.api.server import serve
from byok.store.tokens import MintedToken, Role, TokenRepository, mint_token

__all__ = ["MintedToken", "Role", "TokenRepository", "create_app", "mint_token", "serve"]

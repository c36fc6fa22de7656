"""The read-only HTTP analytics API: what bots, notebooks and other services script against.

``create_app(config)`` builds the FastAPI application; ``crypto api`` serves it with uvicorn
(``crypto up`` and docker-compose run it on port 8000). Routes live in ``routes/`` (one module
per family), read the warehouse through ``crypto_assets.warehouse.queries`` (the dashboard's
query layer) and never write: the API logs in as its own read-only role and every session is a
read-only transaction with a statement timeout.
"""

from crypto_assets.api.app import create_app
from crypto_assets.api.config import ApiConfig

__all__ = ["ApiConfig", "create_app"]

"""Routes answer GET and HEAD (a HEAD gets the GET's headers, without a body); any other method 405."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import APIRouter


def get(router: APIRouter, path: str, **kwargs) -> Callable:
    """``router.get(path, **kwargs)`` plus the same route for HEAD, left out of the OpenAPI schema."""

    def register(endpoint: Callable) -> Callable:
        router.add_api_route(path, endpoint, methods=["GET"], **kwargs)
        router.add_api_route(
            path,
            endpoint,
            methods=["HEAD"],
            include_in_schema=False,
            **{k: v for k, v in kwargs.items() if k in ("response_class", "dependencies")},
        )
        return endpoint

    return register

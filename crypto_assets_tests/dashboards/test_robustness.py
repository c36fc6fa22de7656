"""Every page on an empty warehouse, an unmigrated one, and an unreachable one: a clear message,
never a traceback."""

from __future__ import annotations

import pytest

from crypto_assets_tests.dashboards.apptest import PAGES, figures, open_page, texts
from crypto_assets_tests.dashboards.conftest import closed_port
from crypto_assets_tests.plugins.postgres import new_database

EMPTY_STATES = {
    "market": "No market data yet.",
    "downsampled": "No price samples yet.",
    "volatility": "No daily metrics yet.",
    "live": "Nothing streamed yet.",
    "health": "The warehouse is empty.",
}


@pytest.mark.parametrize("page", PAGES)
def test_an_empty_warehouse_gets_an_empty_state_with_the_commands_that_fill_it(
    page, empty_url, use_database
):
    use_database(empty_url)
    at = open_page(page)
    assert not at.error and not figures(at)
    assert any(EMPTY_STATES[page] in m for m in texts(at, "markdown"))
    assert any(c.value.startswith(("crypto ", "make ")) for c in at.code)


@pytest.mark.parametrize("page", PAGES)
def test_an_unreachable_database_is_named_without_its_password(page, use_database):
    use_database(f"postgresql://reader:s3cret@127.0.0.1:{closed_port()}/crypto")
    at = open_page(page)
    (error,) = texts(at, "error")
    assert (
        "The database at postgresql://reader:***@127.0.0.1:" in error
        and "is not reachable" in error
    )
    assert "s3cret" not in error and "make up" in error


def test_a_database_without_the_schema_says_to_migrate(pg_server, use_database):
    use_database(new_database(pg_server, "dashboard_unmigrated"))
    at = open_page("market")
    (error,) = texts(at, "error")
    assert "has no table for this page" in error and "crypto migrate" in error

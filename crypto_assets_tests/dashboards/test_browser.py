"""End to end: the dashboard served by Streamlit, opened in headless Chromium (Debian's), page by
page, light and dark. Waits for the charts, fails on any exception on the page, and saves
screenshots to artifacts/screenshots/ (kept by CI). The Live page must refresh on its own."""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Iterator
from typing import Literal

import psycopg2
import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from crypto_assets_tests.dashboards.conftest import closed_port
from crypto_assets_tests.dashboards.processes import ROOT, streamlit
from crypto_assets_tests.dashboards.seed import seed_market
from crypto_assets_tests.plugins.postgres import new_database

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = ROOT / "artifacts" / "screenshots"
TIMEOUT_MS = 60_000

VIEWS = [  # page path (the default page, Market, is the root), query string, heading, charts it draws
    ("", "compare=ETHUSDT,SOLUSDT", "Market", 2),
    ("downsampled", "span=1h", "Downsampled prices", 1),
    ("volatility", "symbols=BTCUSDT,ETHUSDT,SOLUSDT", "Volatility", 3),
    ("live", "symbol=BTCUSDT", "Live", 1),
    ("health", "", "Data health", 0),
]


@pytest.fixture(scope="module")
def warehouse(pg_server) -> str:
    """A seeded warehouse of the browser tests' own (the Live test writes to it)."""
    url = new_database(pg_server, "dashboard_browser", migrate=True)
    seed_market(url)
    return url


@pytest.fixture(scope="module")
def dashboard(warehouse, dagster_graphql) -> Iterator[str]:
    port = closed_port()
    env = {
        "DATABASE_URL": warehouse,
        "DAGSTER_GRAPHQL_URL": dagster_graphql,
        "DAGSTER_UI_URL": "http://localhost:3000",
    }
    with streamlit(port, env):
        yield f"http://127.0.0.1:{port}"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not shutil.which(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: apt-get install -y chromium", pytrace=False)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@contextlib.contextmanager
def opened(
    browser: Browser, url: str, scheme: Literal["light", "dark"] = "light"
) -> Iterator[tuple[Page, list[str]]]:
    """A tab on ``url`` once Streamlit has finished running the page; collects page errors."""
    context = browser.new_context(viewport={"width": 1440, "height": 2000}, color_scheme=scheme)
    tab = context.new_page()
    tab.set_default_timeout(TIMEOUT_MS)
    errors: list[str] = []
    tab.on("pageerror", lambda err: errors.append(str(err)))
    try:
        tab.goto(url)
        tab.wait_for_selector("[data-testid='stApp'][data-test-script-state='notRunning']")
        yield tab, errors
    finally:
        context.close()


def assert_no_failure(tab: Page, errors: list[str]) -> None:
    assert tab.locator("[data-testid='stException']").count() == 0, tab.locator(
        "[data-testid='stException']"
    ).first.inner_text()
    text = tab.inner_text("body")
    assert "Traceback" not in text and "Exception" not in text, text
    assert not errors, errors


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize(("page", "query", "heading", "charts"), VIEWS, ids=[v[2] for v in VIEWS])
def test_every_page_renders_its_charts(browser, dashboard, page, query, heading, charts, scheme):
    with opened(browser, f"{dashboard}/{page}?{query}", scheme) as (tab, errors):
        tab.get_by_role("heading", name=heading).wait_for()
        plots = tab.locator("[data-testid=stPlotlyChart]")
        for index in range(charts):
            plots.nth(index).locator(".js-plotly-plot .main-svg").first.wait_for()
        assert plots.count() == charts
        if heading == "Data health":
            tab.locator("[data-testid='stDataFrame']").first.wait_for()
            assert (
                tab.locator("[data-testid='stDataFrame']").count() >= 3
            )  # tables, series, assets, checks
        assert_no_failure(tab, errors)
        tab.screenshot(path=SCREENSHOTS / f"{page or 'market'}-{scheme}.png", full_page=True)


def test_live_page_refreshes_by_itself_without_reloading(browser, dashboard, warehouse):
    with opened(browser, f"{dashboard}/live?symbol=BTCUSDT") as (tab, errors):
        tab.locator("[data-testid=stPlotlyChart] .js-plotly-plot .main-svg").first.wait_for()
        tab.evaluate("window.__notReloaded = true")
        with contextlib.closing(psycopg2.connect(warehouse)) as conn, conn.cursor() as cur:
            cur.execute("INSERT INTO price_samples VALUES ('BTCUSDT', now(), 99999.99)")
            conn.commit()
        tab.wait_for_function("document.body.innerText.includes('99,999.99')")
        assert tab.evaluate("window.__notReloaded") is True
        assert tab.url.endswith("/live?symbol=BTCUSDT")
        assert_no_failure(tab, errors)

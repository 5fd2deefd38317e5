"""The dashboard in a real browser: charts drawn by the vendored Chart.js from the page's
own JSON, a table under each, a manager limited to their cities."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.conftest import Site
from tests.browser.test_manager_pages import sign_in, zh
from tests.factories.world import AS_OF

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module", autouse=True)
def book_figures(site: Site) -> None:
    from doorstep.store.db import transaction
    from doorstep.store.repositories import figures

    with transaction(site.world.engine) as session:
        figures.write_book_figures(session.connection(), AS_OF)


def test_the_dashboard_draws_its_charts_with_tables(page: Any, site: Site) -> None:
    sign_in(page, "admin")
    page.click(f"nav >> text={zh('Dashboard')}")
    page.fill("input[name=until]", AS_OF.isoformat())
    page.click(f"form.filters button >> text={zh('Show')}")
    page.wait_for_selector("canvas[data-chart='book_amount'][data-drawn='true']")
    assert page.locator("[data-testid=chart]").count() >= 10
    book = page.locator("#chart-book_amount")
    assert zh("Overdue amount by bucket (yuan)") in book.inner_text()
    rows = book.locator("tbody tr")
    assert rows.count() == 1 and AS_OF.isoformat() in rows.first.inner_text()
    # the canvas really has pixels on it, not an empty box
    painted = page.evaluate(
        """() => {
            const c = document.querySelector("canvas[data-chart='book_amount']");
            const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
            let n = 0; for (let i = 3; i < d.length; i += 4) if (d[i]) n++;
            return n;
        }"""
    )
    assert painted > 1000
    page.screenshot(path=str(site.shots / "dashboard.png"), full_page=True)


def test_a_manager_can_choose_only_their_cities(page: Any) -> None:
    sign_in(page, "manager")
    page.goto("/dashboard")
    options = page.locator("select[name=city] option").all_inner_texts()
    assert "北京市" in options and "上海市" not in options

"""Screenshots of each console page for the README (docs/screenshots/*.png), taken in Debian's
chromium against `make demo`'s running platform: `python -m e2e.console_screenshots ENDPOINTS.json`,
where the file holds the platform's endpoints (`<data dir>/run/endpoints.json`, `var/run/...` for
the demo). `--plate` is the plate the investigations page searches (the demo's stolen car);
`--out` another directory for the pictures."""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

from basira.cli.demo import demo_plate
from e2e.browser import chromium, sign_in

DOCS = Path(__file__).resolve().parents[1] / "docs" / "screenshots"


def take(endpoints_file: Path, plate: str, out: Path) -> None:
    platform = SimpleNamespace(endpoints=json.loads(endpoints_file.read_text()))
    out.mkdir(parents=True, exist_ok=True)
    with chromium() as browser:
        for locale, name in (("en", "command-room"), ("ar", "command-room-ar")):
            context, page = sign_in(browser, platform, "police-operator", locale=locale)  # type: ignore[arg-type]
            page.locator('[data-testid="alert-queue"][data-live="true"]').wait_for()
            page.wait_for_timeout(1500)
            page.screenshot(path=str(out / f"{name}.png"), full_page=True)
            context.close()
        context, page = sign_in(browser, platform, "police-investigator", path="/investigations")  # type: ignore[arg-type]
        form = page.get_by_test_id("case-form")
        form.locator("input[name=purpose]").fill("theft-investigation")
        form.locator("input[name=case_id]").fill("CASE-2026-0909")
        form.locator("input[name=authorization_id]").fill("AUTH-2026-909")
        form.locator("input[name=issued_by]").fill("court")
        form.locator("input[name=scope_zones]").fill("medina")
        form.locator("input[name=authorization_expires]").fill(
            (datetime.now(UTC) + timedelta(days=30)).date().isoformat())
        form.get_by_role("button", name="Use this case").click()
        page.locator("input[name=plate]").fill(plate)
        page.locator("form:has(input[name=plate])").get_by_role("button", name="Search").click()
        row = page.locator('[data-testid="sightings"] tr[data-sighting]').first
        row.wait_for()
        row.get_by_role("button", name="Show").click()
        row.locator("figure img").wait_for()
        page.wait_for_timeout(800)
        page.screenshot(path=str(out / "investigations.png"), full_page=True)
        page.goto(f"{platform.endpoints['console']}/lists")
        page.get_by_test_id("hotlist").wait_for()
        page.screenshot(path=str(out / "lists.png"), full_page=True)
        context.close()
        context, page = sign_in(browser, platform, "oversight-auditor", path="/oversight")  # type: ignore[arg-type]
        filters = page.get_by_test_id("log-filters")
        filters.locator("input[name=action]").fill("evidence.view")
        # the unfiltered page is on screen until the filtered one arrives: wait for it, or a click on a
        # row of the old page loses its verdict when the table is redrawn
        with page.expect_response(lambda r: "/api/audit/records" in r.url and "evidence.view" in r.url):
            filters.get_by_role("button", name="Filter").click()
        record = page.locator('[data-testid="log"] tbody tr[data-action="evidence.view"]').first
        record.wait_for()
        record.get_by_role("button", name="Verify").click()
        answer = record.get_by_test_id("verdict").or_(record.get_by_test_id("refusal"))
        answer.wait_for(timeout=60_000)
        if record.get_by_test_id("refusal").count():
            raise RuntimeError(f"Verify was refused: {record.get_by_test_id('refusal').inner_text()}")
        page.screenshot(path=str(out / "oversight.png"), full_page=False)
        page.goto(f"{platform.endpoints['console']}/policy")
        page.get_by_test_id("revision").wait_for()
        page.screenshot(path=str(out / "policy.png"), full_page=False)
        context.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("endpoints", type=Path, help="the platform's endpoints.json")
    parser.add_argument("--plate", default=demo_plate(), help="plate to search (the demo's: %(default)s)")
    parser.add_argument("--out", type=Path, default=DOCS, help="where the PNGs go (%(default)s)")
    args = parser.parse_args()
    take(args.endpoints, args.plate, args.out)


if __name__ == "__main__":
    main()

"""``ark dashboard`` in headless Chromium, against a real backup, restore, schedule and location
the operator made: each page shows them, the dry-run form plans a restore, and requests from
elsewhere (no CSRF token, a foreign Host or Origin) are refused. Screenshots of each page are
kept under test-artifacts/dashboard/."""

from __future__ import annotations

import http.client
import re

from playwright.sync_api import Page, expect

from ark import control
from ark.kube import KubeClient
from tests.dashboard.conftest import (
    BACKUP,
    CONFIGMAPS,
    REFUSED,
    RESTORE,
    SCHEDULE,
    Dashboard,
    World,
    screenshot,
)

SLOW = 30_000
"""Milliseconds an expectation waits at most (a busy machine, an operator at work)."""


def test_backups_page_lists_the_backup_completed_and_verified(
    page: Page, dashboard: Dashboard, world: World
) -> None:
    page.goto(dashboard.url)

    expect(page).to_have_url(dashboard.url + "backups")
    expect(page.locator("h1")).to_have_text("Backups")
    row = page.locator("tbody tr").filter(has_text=BACKUP).first
    expect(row).to_contain_text("Completed")
    expect(row).to_contain_text("default")
    expect(row).to_contain_text(re.compile(r"(\d+)/\1"))  # every item backed up
    expect(row).to_contain_text("0 errors")
    expect(row).to_contain_text("Verified")
    refused = page.locator("tbody tr").filter(has_text=REFUSED)
    expect(refused).to_contain_text("FailedValidation")
    expect(page.locator("header")).to_contain_text(f"namespace {world.namespace}")
    screenshot(page, "backups")


def test_backup_page_shows_spec_status_conditions_and_its_restores(
    page: Page, dashboard: Dashboard, world: World
) -> None:
    page.goto(dashboard.url + "backups")
    page.get_by_role("link", name=BACKUP, exact=True).click()

    expect(page.locator("h1")).to_have_text(f"Backup {BACKUP}")
    spec = page.locator("section").filter(has=page.get_by_role("heading", name="Spec"))
    expect(spec).to_contain_text(world.app)
    status = page.locator("section").filter(has=page.get_by_role("heading", name="Status"))
    expect(status).to_contain_text("Manifest SHA-256")
    conditions = page.locator("section").filter(has=page.get_by_role("heading", name="Conditions"))
    expect(conditions).to_contain_text("Ready")
    expect(conditions).to_contain_text("Verified")
    made = page.locator("section").filter(has_text="Restores of this backup")
    expect(made.get_by_role("link", name=RESTORE, exact=True)).to_be_visible()
    expect(page.get_by_role("button", name="Dry-run restore")).to_be_visible()
    screenshot(page, "backup")


def test_restore_page_shows_each_item_and_what_came_back_different(
    page: Page, dashboard: Dashboard, world: World
) -> None:
    page.goto(dashboard.url + "restores")
    listed = page.locator("tbody tr").filter(has=page.get_by_role("link", name=RESTORE, exact=True))
    expect(listed).to_contain_text("Completed")
    expect(page.locator("tbody tr").filter(has_text=f"restore test of {SCHEDULE}")).to_have_count(1)
    screenshot(page, "restores")
    page.get_by_role("link", name=RESTORE, exact=True).click()

    expect(page.locator("h1")).to_have_text(f"Restore {RESTORE}")
    results = page.locator("section").filter(has=page.get_by_role("heading", name="Results"))
    for i in range(1, CONFIGMAPS):
        row = results.locator("tr").filter(has_text=f"cm-{i}").first
        expect(row).to_contain_text("created")
        expect(row).to_contain_text(f"{world.app} → {world.clone}")
    existing = results.locator("tr").filter(has_text="cm-0").first  # there before, different
    expect(existing).to_contain_text("skipped-exists")
    expect(existing).to_contain_text('data.value: "changed since the backup" -> "value 0"')
    screenshot(page, "restore")


def test_schedules_page_shows_recovery_point_next_run_and_restore_test(
    page: Page, dashboard: Dashboard
) -> None:
    page.goto(dashboard.url + "schedules")

    row = page.locator("tbody tr").filter(has_text=SCHEDULE)
    expect(row).to_contain_text("0 3 * * *")
    expect(row).to_contain_text("Enabled")
    cells = row.locator("td")
    expect(cells.nth(4)).to_contain_text(re.compile(r"\(\d+[smhd] ago\)"))  # recovery point
    expect(cells.nth(5)).to_contain_text(re.compile(r"\(\d+[smhd] ago\)"))  # last success
    expect(cells.nth(6)).to_contain_text(f"{BACKUP} Completed")  # its newest backup
    expect(cells.nth(7)).to_contain_text(re.compile(r"\(in \d+[smhd]\)"))  # the next run
    expect(cells.nth(8)).to_contain_text(f"Passed {BACKUP}")  # its restore test
    screenshot(page, "schedules")


def test_locations_page_shows_the_location_available_and_ready(
    page: Page, dashboard: Dashboard
) -> None:
    page.goto(dashboard.url + "locations")

    row = page.locator("tbody tr").filter(has_text="default").first
    expect(row).to_contain_text("Available")
    expect(row).to_contain_text("True")  # Ready
    expect(row).to_contain_text("aws")
    expect(row).to_contain_text(re.compile(r"ago\)"))  # validated
    expect(page.get_by_text("No volume snapshot locations.")).to_be_visible()
    screenshot(page, "locations")


def test_dry_run_form_plans_a_restore_and_shows_its_plan(
    page: Page, dashboard: Dashboard, world: World, kube: KubeClient
) -> None:
    target = f"{world.app}-dry"
    page.goto(dashboard.url + f"backups/{BACKUP}")
    page.get_by_label("Namespace mappings").fill(f"{world.app}:{target}")
    page.get_by_role("button", name="Dry-run restore").click()

    expect(page).to_have_url(re.compile(rf"/restores/{BACKUP}-dry-run-\d+$"))
    expect(page.locator("h1")).to_contain_text("Dry-run restore")
    plan = page.locator("section").filter(
        has=page.get_by_role("heading", name="Plan (dry run: nothing was written)")
    )
    expect(plan.locator("tr").filter(has_text="cm-1").first).to_contain_text(
        f"{world.app} → {target}", timeout=SLOW
    )
    expect(page.locator("main")).to_contain_text("Completed")
    name = page.url.rsplit("/", 1)[1]
    restore = control.get(kube, control.RESTORE, world.namespace, name)
    assert restore is not None and restore["spec"]["dryRun"] is True
    assert restore["spec"]["namespaceMapping"] == {world.app: target}
    assert kube.get_or_none(f"/api/v1/namespaces/{target}") is None  # nothing written
    screenshot(page, "dry-run")


def test_missing_backup_is_a_404_page(page: Page, dashboard: Dashboard) -> None:
    response = page.goto(dashboard.url + "backups/no-such-backup")

    assert response is not None and response.status == 404
    expect(page.locator("main")).to_contain_text('backup "no-such-backup" not found')


def _request(
    dashboard: Dashboard, method: str, path: str, *, body: str = "", headers: dict[str, str]
) -> tuple[int, str]:
    conn = http.client.HTTPConnection("127.0.0.1", dashboard.port, timeout=30)
    try:
        conn.request(method, path, body=body.encode(), headers=headers)
        response = conn.getresponse()
        return response.status, response.read().decode()
    finally:
        conn.close()


def _restores(kube: KubeClient, world: World) -> set[str]:
    return {
        o["metadata"]["name"] for o in control.list_objects(kube, control.RESTORE, world.namespace)
    }


def _token(dashboard: Dashboard) -> str:
    host = {"Host": f"127.0.0.1:{dashboard.port}"}
    status, text = _request(dashboard, "GET", f"/backups/{BACKUP}", headers=host)
    assert status == 200
    found = re.search(r'name="csrf" value="([^"]+)"', text)
    assert found is not None
    return found.group(1)


FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def test_post_without_the_csrf_token_is_refused_and_creates_nothing(
    dashboard: Dashboard, world: World, kube: KubeClient
) -> None:
    before = _restores(kube, world)
    host = {"Host": f"127.0.0.1:{dashboard.port}", **FORM}

    missing = _request(
        dashboard, "POST", f"/backups/{BACKUP}/dry-run", body="namespaceMappings=", headers=host
    )
    wrong = _request(
        dashboard, "POST", f"/backups/{BACKUP}/dry-run", body="csrf=guess", headers=host
    )

    assert missing[0] == 403 and "CSRF token" in missing[1]
    assert wrong[0] == 403
    assert _restores(kube, world) == before


def test_foreign_host_or_origin_is_refused(
    dashboard: Dashboard, world: World, kube: KubeClient
) -> None:
    before = _restores(kube, world)
    token = _token(dashboard)
    rebound = {"Host": f"attacker.example:{dashboard.port}"}

    page = _request(dashboard, "GET", "/backups", headers=rebound)
    post = _request(
        dashboard,
        "POST",
        f"/backups/{BACKUP}/dry-run",
        body=f"csrf={token}",
        headers={**rebound, **FORM},
    )
    cross_site = _request(
        dashboard,
        "POST",
        f"/backups/{BACKUP}/dry-run",
        body=f"csrf={token}",
        headers={
            "Host": f"127.0.0.1:{dashboard.port}",
            "Origin": "http://attacker.example",
            **FORM,
        },
    )

    assert page[0] == 403 and "not this dashboard's address" in page[1]
    assert BACKUP not in page[1]
    assert post[0] == 403
    assert cross_site[0] == 403 and "another origin" in cross_site[1]
    assert _restores(kube, world) == before

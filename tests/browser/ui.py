"""Driving Airflow's UI the way a person does: log in, fill the trigger form, read a run's note.

Every helper acts through what is on screen (labels, fields, buttons), never the REST API, so a
form that cannot be filled or submitted fails the test.
"""

from __future__ import annotations

import os
import re
import time
from pathlib import Path
from typing import Any

from playwright.sync_api import Browser, Locator, Page, expect

# A page under a busy scheduler, beside make test's other workers, can take a while.
expect.set_options(timeout=60_000)
ROOT = Path(__file__).resolve().parents[2]
#: Screenshots go to docs/img (for the README's quick tour) with DROPSTREAM_UPDATE_SCREENSHOTS=1.
SCREENSHOTS = (
    ROOT / "docs" / "img" if os.environ.get("DROPSTREAM_UPDATE_SCREENSHOTS") == "1" else None
)


def launch_args() -> list[str]:
    """Chromium as root in a closed network: no sandbox, no calls home."""
    return [
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
    ]


class AirflowUI:
    """One logged-in browser page on an Airflow api-server."""

    def __init__(self, browser: Browser, base_url: str, shots: Path) -> None:
        self.base_url = base_url.rstrip("/")
        self.page: Page = browser.new_page(viewport={"width": 1400, "height": 1000})
        self.page.set_default_timeout(60_000)
        self.shots = shots

    def close(self) -> None:
        self.page.close()

    def screenshot(self, name: str, target: Locator | None = None, *, docs: bool = False) -> Path:
        """Save a screenshot; ``docs``: one the README shows, refreshed under docs/img."""
        path = self.shots / f"{name}.png"
        (target or self.page).screenshot(path=str(path))
        if docs and SCREENSHOTS is not None:
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            (target or self.page).screenshot(path=str(SCREENSHOTS / f"{name}.png"))
        return path

    # --- navigation ------------------------------------------------------------------------
    def login(self, username: str, password: str) -> None:
        page = self.page
        page.goto(self.base_url + "/")
        page.get_by_label(re.compile("username", re.I)).fill(username)
        page.get_by_label(re.compile("password", re.I)).fill(password)
        page.get_by_role("button", name=re.compile("sign in|log in|login", re.I)).click()
        page.wait_for_url(re.compile(re.escape(self.base_url) + r"/(\?.*)?$"))

    def open(self, path: str) -> None:
        self.page.goto(self.base_url + path)
        self.page.wait_for_load_state("networkidle")

    # --- Required Actions -------------------------------------------------------------------
    def open_required_action(self, detail: dict[str, Any], task_id: str) -> None:
        """From the pending Required Actions list, open the one ``detail`` (an hitlDetails
        entry of the REST API) describes, the way a person does: its row, then its task link."""
        self.open("/required_actions?response_received=false")  # pending ones
        row = self.page.get_by_role("row").filter(has_text=detail["subject"]).first
        expect(row).to_be_visible()
        run_id = detail["task_instance"]["dag_run_id"]
        row.get_by_role("link", name=task_id).click()
        self.page.wait_for_url(
            re.compile(f"/runs/{re.escape(run_id)}/tasks/{task_id}/required_actions")
        )

    # --- the trigger form ------------------------------------------------------------------
    def open_trigger_form(self, dag_id: str) -> Locator:
        self.open(f"/dags/{dag_id}")
        self.page.get_by_role("button", name="Trigger").first.click()
        dialog = self.dialog()
        expect(dialog.get_by_text(f"Trigger Dag - {dag_id}")).to_be_visible()
        return dialog

    def dialog(self) -> Locator:
        """The open modal dialog (popovers inside it are dialogs too, hence the selector)."""
        return self.page.locator('[data-scope="dialog"][data-part="content"][data-state="open"]')

    def _show(self, dialog: Locator, section: str, field: Locator) -> None:
        """Open the form section holding ``field`` unless it is already open."""
        if not field.is_visible():
            dialog.get_by_role("button", name=section, exact=True).click()
            expect(field).to_be_visible()

    def fill_form(self, dialog: Locator, sections: dict[str, str], values: dict[str, Any]) -> None:
        """Type ``values`` into the form's fields; ``sections`` maps each field to its section."""
        for name, value in values.items():
            section = sections[name]
            if isinstance(value, bool):
                switch = dialog.locator(f'[id="switch:element_{name}"]')
                self._show(dialog, section, switch)
                if switch.get_attribute("data-state") != ("checked" if value else "unchecked"):
                    switch.click()
            elif isinstance(value, Choice):
                select = dialog.locator(f"#element_{name}")
                self._show(dialog, section, select)
                select.click()
                self.page.get_by_role("option", name=value.label, exact=True).click()
                expect(select).to_contain_text(value.label)
            else:
                field = dialog.locator(f'[name="element_{name}"]')
                self._show(dialog, section, field)
                text = "\n".join(value) if isinstance(value, list) else str(value)
                field.fill(text)

    def submit(self, dialog: Locator) -> str:
        """Press Trigger (it must be enabled); return the run id of the page the UI opens."""
        button = dialog.get_by_role("button", name="Trigger", exact=True)
        expect(button).to_be_enabled()
        button.click()
        try:
            self.page.wait_for_url(re.compile(r"/runs/[^/?]+"), timeout=90_000)
        except Exception as error:  # say what the person saw instead of the run page
            shown = (
                self.page.get_by_role("alert").all_inner_texts()
                + self.page.locator('[data-scope="toast"]').all_inner_texts()
            )
            raise AssertionError(
                f"Trigger did not open the run page within 90 s (at {self.page.url}); "
                f"alerts and toasts: {shown}"
            ) from error
        return re.search(r"/runs/([^/?]+)", self.page.url).group(1)  # type: ignore[union-attr]


def pick_datetime(page: Page, dialog: Locator, index: int, when: Any) -> None:
    """Set the ``index``-th date-and-time picker of ``dialog`` (UTC) by typing into its popover."""
    trigger = dialog.get_by_test_id("datetime-input").nth(index)
    trigger.click()
    popover = page.locator('[data-scope="popover"][data-part="content"][data-state="open"]')
    popover.get_by_placeholder("YYYY/MM/DD").fill(when.strftime("%Y/%m/%d"))
    popover.get_by_placeholder("HH:mm").fill(when.strftime("%H:%M"))
    dialog.get_by_role("heading").first.click()  # close the popover, not the dialog
    expect(trigger).to_contain_text(when.strftime("%H:%M"))


class Choice(str):
    """A dropdown value, chosen by the label the form shows (``values_display``)."""

    def __new__(cls, label: str) -> Choice:
        obj = super().__new__(cls, label)
        obj.label = label
        return obj

    label: str


def wait(check: Any, timeout: float, what: str, every: float = 1.0, seen: Any = None) -> Any:
    """Poll ``check`` until it returns something truthy; fail naming ``what`` and, when given,
    what ``seen()`` says was there instead."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            instead = f"; seen instead: {seen()}" if seen else ""
            raise AssertionError(f"{what}: not seen within {timeout:.0f} s{instead}")
        time.sleep(every)

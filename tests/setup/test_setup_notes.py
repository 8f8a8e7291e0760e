"""The setup run's note, in the form's words, and keys pasted into a masked field."""

from __future__ import annotations

import io

import paramiko
import pytest

from dropstream.setup.keys import normalize_private_key
from dropstream.setup.notes import NOTE_LIMIT, Outcome, summary
from dropstream.setup.validate import Plan
from tests.servers.sshd import new_ed25519_key


def plan(action: str = "add") -> Plan:
    return Plan(
        action,
        "acme",
        "dropstream_acme_store",
        "dropstream_acme_warehouse",
        spec={"merchant": "acme-goods"},
    )


def test_success_says_what_was_registered_and_what_to_do_next():
    note = summary(
        Outcome(plan(), True, proven={"warehouse": ["logged in to sftp.example"], "store": ["ok"]})
    )
    first = note.splitlines()[0]
    assert first.startswith("**Connection `acme` added** for merchant `acme-goods`")
    assert "paused" in first
    assert "[dropstream__acme__orders](/dags/dropstream__acme__orders)" in note
    assert "- Warehouse: ✔ logged in to sftp.example" in note


def test_failure_puts_the_first_problem_on_the_first_line_and_names_fields_by_title():
    failures = {
        "test_warehouse": {"reason": "login refused for bob", "fields": ["warehouse_password"]},
        "test_store": {"reason": "token refused", "fields": ["store_access_token"]},
    }
    note = summary(Outcome(plan(), True, failures=failures))
    first = note.splitlines()[0]
    assert "failed, nothing was registered" in first
    assert "login refused for bob — look at 'Password / secret access key'" in first
    assert "(and 1 more below)" in first
    assert "- Store check: token refused — look at 'Access token'" in note


def test_test_only_reports_every_check():
    failures = {"test_store": {"reason": "token refused", "fields": ["store_access_token"]}}
    note = summary(
        Outcome(
            plan("test"), True, failures=failures, proven={"warehouse": ["folder /in is writable"]}
        )
    )
    assert note.startswith("**Test of connection `acme` found 1 problem(s)**")
    assert "- Warehouse: ✔ folder /in is writable" in note


def test_a_long_note_is_shortened_to_airflows_limit_and_says_so():
    problems = [f"'Field {i}': something is wrong with it, please fix it now" for i in range(60)]
    note = summary(Outcome(None, True, name="acme", failures={"validate": {"problems": problems}}))
    assert len(note) <= NOTE_LIMIT
    assert "more in the report task's log" in note


@pytest.mark.parametrize("strip", [" ", ""])
def test_a_key_pasted_into_a_single_line_field_is_restored(strip):
    private_key, _public = new_ed25519_key()
    typed = private_key.replace("\n", strip)  # what a password input makes of a pasted key
    restored = normalize_private_key(typed)
    original = paramiko.Ed25519Key.from_private_key(io.StringIO(private_key))
    loaded = paramiko.Ed25519Key.from_private_key(io.StringIO(restored))
    assert loaded.get_fingerprint() == original.get_fingerprint()
    assert restored.startswith("-----BEGIN OPENSSH PRIVATE KEY-----\n")
    assert restored.endswith("\n-----END OPENSSH PRIVATE KEY-----\n")
    assert normalize_private_key(restored) == restored  # a well-formed key stays as it is


def test_text_that_is_not_a_key_is_left_alone():
    assert normalize_private_key("hunter22") == "hunter22"


def test_help_texts_keep_their_placeholders():
    """Markdown drops ``<shop>``-style text outside code spans; no help text may rely on it."""
    import re

    from adapters import PLATFORMS
    from dropstream.setup.form import setup_params

    for name, param in setup_params(["acme"], PLATFORMS).items():
        outside_code = re.sub(r"`[^`]*`", "", param.schema["description_md"])
        assert "<" not in outside_code and ">" not in outside_code.replace("→", ""), name


def test_a_short_secret_does_not_mangle_the_note():
    from dropstream.setup.tasks import scrub

    note = "'Merchant': 'existing_merchant' is fine; token shpat_abcdef refused"
    assert scrub(note, {"warehouse_password": "x", "store_access_token": "shpat_abcdef"}) == (
        "'Merchant': 'existing_merchant' is fine; token *** refused"
    )

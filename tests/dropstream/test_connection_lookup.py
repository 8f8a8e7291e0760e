"""A Connection Airflow says is not defined is looked up again before DropStream believes it: the
Task SDK says the same when the api-server's Execution API did not answer in time."""

from __future__ import annotations

import json

import pytest
from airflow.sdk import BaseHook
from airflow.sdk.exceptions import AirflowNotFoundException

from dropstream import connection_lookup
from dropstream.errors import ConfigurationError
from dropstream.transports._common import get_airflow_connection


@pytest.fixture
def lookups(monkeypatch):
    """Count BaseHook.get_connection calls; the first ``failing`` say 'isn't defined' the way
    the Task SDK does when every secrets backend failed."""
    real = BaseHook.get_connection
    seen = {"calls": 0, "failing": 0}

    def get_connection(conn_id):
        seen["calls"] += 1
        if seen["calls"] <= seen["failing"]:
            raise AirflowNotFoundException(f"The conn_id `{conn_id}` isn't defined")
        return real(conn_id)

    monkeypatch.setattr(BaseHook, "get_connection", staticmethod(get_connection))
    monkeypatch.setattr(connection_lookup, "PAUSE_SECONDS", 0.0)
    return seen


def test_a_connection_airflow_failed_to_read_once_is_read_on_the_next_lookup(lookups, monkeypatch):
    monkeypatch.setenv(
        "AIRFLOW_CONN_ACME_WAREHOUSE",
        json.dumps({"conn_type": "ftp", "host": "ftp.acme.example", "login": "acme"}),
    )
    lookups["failing"] = connection_lookup.LOOKUPS - 1
    conn = get_airflow_connection("acme_warehouse", "ftp")
    assert (conn.host, conn.login) == ("ftp.acme.example", "acme")
    assert lookups["calls"] == connection_lookup.LOOKUPS


def test_a_missing_connection_fails_after_the_lookups_saying_both_things_it_can_mean(lookups):
    with pytest.raises(ConfigurationError) as caught:
        get_airflow_connection("acme_nowhere", "sftp")
    assert lookups["calls"] == connection_lookup.LOOKUPS
    message = str(caught.value)
    assert message.startswith("Airflow Connection 'acme_nowhere' does not exist")
    assert "could not read it" in message and "api-server's log" in message
    assert message.endswith("create it (type sftp)")

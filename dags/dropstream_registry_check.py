"""Surfaces invalid DropStream registry entries as import errors in the Airflow UI.

The generator skips an invalid entry so the other connections keep running; this file fails
to import while any entry is invalid, so the UI's "DAG Import Errors" names the connection
and every problem, including two connections that share an orders or shipments folder of one
warehouse account with the same order-number prefix (only those candidates' Airflow
Connections are looked up). It defines no DAG (the word DAG is here so the processor parses
it: airflow).
"""

from __future__ import annotations

from airflow.sdk import get_parsing_context

from dropstream.errors import RegistryError
from dropstream.registry import load_registry
from dropstream.transports import AccountResolver

if not (get_parsing_context().dag_id or "").startswith("dropstream__"):
    _errors = load_registry(account_of=AccountResolver()).errors
    if _errors:
        raise RegistryError(_errors)

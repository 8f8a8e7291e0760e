"""Alerts: trouble with a connection, told to its ``alerts`` recipients once per incident.

::

    incidents.py   what an incident says (pure): failed flow, overdue orders, held order,
                   unknown shipment, warehouse file moved to error; one message or a digest
    sweep.py       after each step: turn the ledger's facts into incidents, send the new ones
    callbacks.py   Airflow's hooks: a task failing after its retries, the orders DeadlineAlert
    notify.py      e-mail through Airflow's SmtpNotifier and the Connection ``dropstream_smtp``;
                   Slack, Teams, ... through Apprise and the Connection ``dropstream_apprise``

The ledger (``ds_alerts``) records every incident per channel; a message is sent only by
whoever claims an incident first, and the next trouble of the same kind is a new incident only
after the first is resolved (the flow succeeded, the order left ``held``, ...).
See docs/operations.md.
"""

from __future__ import annotations

from dropstream.alerts.incidents import DIGEST_AFTER, Incident, Message, compose

__all__ = ["DIGEST_AFTER", "Incident", "Message", "compose"]

"""Send alert messages by e-mail through Airflow's SmtpNotifier (smtp provider).

The SMTP server, its login and the sender address live in the Airflow Connection
``dropstream_smtp`` (type ``smtp``; extra ``from_email``; ``disable_tls`` / ``disable_ssl`` for a
server without them; ``retry_limit``, ``timeout``). See docs/operations.md.
"""

from __future__ import annotations

from collections.abc import Sequence

from dropstream.alerts.incidents import Message

SMTP_CONN_ID = "dropstream_smtp"


def send_email(to: Sequence[str], message: Message, conn_id: str = SMTP_CONN_ID) -> None:
    """Send one message to ``to``; raises whatever the SMTP side raises."""
    from airflow.providers.smtp.notifications.smtp import SmtpNotifier

    notifier = SmtpNotifier(
        to=list(to),
        subject=message.subject,
        html_content=message.html,
        smtp_conn_id=conn_id,
    )
    # notify(), not __call__: the texts hold error messages that must not be read as Jinja.
    notifier.notify({})

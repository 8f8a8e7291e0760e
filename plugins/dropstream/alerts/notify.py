"""Send alert messages: e-mail through Airflow's SmtpNotifier (smtp provider), chat and other
services through Apprise (apprise provider).

The SMTP server, its login and the sender address live in the Airflow Connection
``dropstream_smtp`` (type ``smtp``; extra ``from_email``; ``disable_tls`` / ``disable_ssl`` for a
server without them; ``retry_limit``, ``timeout``). The Apprise services, with their tokens, live
in the Connection ``dropstream_apprise`` (type ``apprise``; extra ``config``: a list of
``{"path": "<apprise URL>", "tag": "<tag>"}``); a connection's ``alerts.apprise_tags`` pick
which of them hear about it. See docs/operations.md.
"""

from __future__ import annotations

from collections.abc import Sequence

from dropstream.alerts.incidents import Message

SMTP_CONN_ID = "dropstream_smtp"
APPRISE_CONN_ID = "dropstream_apprise"


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


def send_apprise(tags: Sequence[str], message: Message, conn_id: str = APPRISE_CONN_ID) -> None:
    """Send one message to the Apprise services tagged ``tags``; raise when none took it.

    Through the provider's AppriseHook (it reads the Connection), but calling Apprise itself:
    the hook's ``notify`` drops Apprise's answer, and an alert that did not go out must be
    retried, not recorded as sent.
    """
    import apprise
    from airflow.providers.apprise.hooks.apprise import AppriseHook

    hook = AppriseHook(apprise_conn_id=conn_id)
    services = apprise.Apprise()
    hook.set_config_from_conn(hook.get_connection(conn_id), services)
    if not services.notify(
        body=message.text,
        title=message.subject,
        notify_type=apprise.NotifyType.FAILURE,
        body_format=apprise.NotifyFormat.TEXT,
        tag=list(tags),
    ):
        raise RuntimeError(
            f"no Apprise service tagged {', '.join(tags)} in the Airflow Connection {conn_id} "
            "accepted the message (a missing tag, or every service refused it: see the log)"
        )

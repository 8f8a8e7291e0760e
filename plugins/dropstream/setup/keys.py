"""Private keys typed into a masked form field.

A browser's password input is one line: pasting a key into it drops the line breaks, so
``-----BEGIN OPENSSH PRIVATE KEY-----\\nb3Bl…\\n-----END OPENSSH PRIVATE KEY-----`` arrives as
one run of text. The armour lines still mark where the body starts and ends, and the body is
base64 (line breaks carry no meaning there), so the key can be put back exactly: header, the body
re-wrapped (70 characters for OpenSSH keys as ssh-keygen writes them, 64 for PEM), footer.
Legacy encrypted PEM keys carry ``Proc-Type``/``DEK-Info`` headers before the body; those are
restored on their own lines, followed by the blank line PEM requires.
"""

from __future__ import annotations

import re
import textwrap

_ARMOUR = re.compile(
    r"-----BEGIN (?P<label>[A-Z0-9 ]+)-----(?P<body>.*?)-----END (?P=label)-----", re.DOTALL
)
_PEM_HEADERS = re.compile(
    r"^\s*Proc-Type:\s*(?P<proc>\S+?)\s*DEK-Info:\s*(?P<dek>[A-Za-z0-9-]+,[0-9A-Fa-f]+)\s*"
)


def normalize_private_key(text: str) -> str:
    """``text`` as a well-formed key file; text that is not an armoured key is returned as is."""
    match = _ARMOUR.search(text)
    if match is None:
        return text
    label, body = match["label"], match["body"]
    headers = ""
    legacy = _PEM_HEADERS.match(body)
    if legacy:
        headers = f"Proc-Type: {legacy['proc']}\nDEK-Info: {legacy['dek']}\n\n"
        body = body[legacy.end() :]
    compact = "".join(body.split())
    width = 70 if label == "OPENSSH PRIVATE KEY" else 64
    lines = "\n".join(textwrap.wrap(compact, width, break_on_hyphens=False))
    return f"-----BEGIN {label}-----\n{headers}{lines}\n-----END {label}-----\n"

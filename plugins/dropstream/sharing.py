"""Shared warehouse folders: which connections use the same folder of one warehouse account.

Two connections *share* a folder when their warehouse is the same account and the folder is the
same path. The account is the Airflow Connection (same ``conn_id``), or what that Connection
points at: protocol + host + port + login for FTP/FTPS/SFTP, endpoint + bucket for S3 (the
setup form gives every connection its own Airflow Connection, so two stores of one merchant at
one 3PL usually share by address, not by ``conn_id``).

Pure: who shares with whom is decided from specs and an ``account_of`` function; looking the
Airflow Connections up is the caller's edge (``dropstream.transports.warehouse_account``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from dropstream.catalogue import PROTOCOLS
from dropstream.spec import ConnectionSpec

Kind = Literal["orders", "shipments", "inventory"]
#: Folders where two connections with one order-number prefix would mix up their orders.
PREFIXED_KINDS: tuple[Kind, ...] = ("orders", "shipments")


@dataclass(frozen=True, slots=True)
class Account:
    """One warehouse login: its protocol and where it lands."""

    protocol: str
    where: tuple[str, ...]

    def describe(self) -> str:
        if self.where[:1] == ("conn_id",):
            return f"Airflow Connection '{self.where[1]}'"
        return f"{self.protocol}://{'/'.join(self.where)}"


AccountOf = Callable[[ConnectionSpec], Account]


def account_of_connection(
    protocol: str, host: str | None, port: int | None, login: str | None, extra: Mapping[str, Any]
) -> Account | None:
    """The account an Airflow Connection's fields point at (None when they name none)."""
    if protocol == "s3":
        bucket = str(extra.get("bucket") or "").strip()
        endpoint = str(extra.get("endpoint_url") or "aws").strip().rstrip("/").lower()
        return Account("s3", (endpoint, bucket)) if bucket else None
    if not host:
        return None
    entry = PROTOCOLS.get(protocol)
    default = (entry.default_port if entry else None) or 0
    return Account(protocol, (host.strip().lower(), str(port or default), (login or "").strip()))


def by_conn_id(spec: ConnectionSpec) -> Account:
    """The account as far as the registry alone can tell: the Airflow Connection id."""
    return Account(spec.warehouse.protocol, ("conn_id", spec.warehouse.conn_id))


def folder(spec: ConnectionSpec, kind: Kind) -> str:
    return str(getattr(spec.warehouse.paths, kind))


def _same_folder(a: ConnectionSpec, b: ConnectionSpec, kind: Kind) -> bool:
    return a.warehouse.protocol == b.warehouse.protocol and folder(a, kind) == folder(b, kind)


def sharing(
    spec: ConnectionSpec, kind: Kind, specs: Iterable[ConnectionSpec], account_of: AccountOf
) -> list[str]:
    """Names of the connections (``spec`` included) that share its ``kind`` folder, sorted.

    ``account_of`` is only asked about connections with the same protocol and folder path.
    """
    others = [s for s in specs if s.name != spec.name and _same_folder(spec, s, kind)]
    if not others:
        return [spec.name]
    mine = account_of(spec)
    return sorted({spec.name, *(s.name for s in others if account_of(s) == mine)})


def group_key(spec: ConnectionSpec, kind: Kind, members: list[str], account: Account) -> str:
    """The ledger key under which a folder's files and unmatched records are kept.

    A folder used by one connection keeps that connection's name (as before sharing existed);
    a shared folder gets a key derived from the account and the path, the same for every member.
    """
    if members == [spec.name]:
        return spec.name
    digest = hashlib.sha256(
        "\n".join((account.protocol, *account.where, folder(spec, kind))).encode()
    ).hexdigest()
    return f"shared-{digest[:20]}"


def prefix_conflicts(
    candidate: ConnectionSpec, specs: Iterable[ConnectionSpec], account_of: AccountOf
) -> list[str]:
    """Each other connection sharing ``candidate``'s orders or shipments folder with its prefix.

    One problem per (connection, folder), naming both connections, the folder and the account.
    """
    prefix = candidate.rules.order_number_prefix
    problems = []
    for other in sorted(specs, key=lambda s: s.name):
        if other.name == candidate.name or other.rules.order_number_prefix != prefix:
            continue
        for kind in PREFIXED_KINDS:
            if not _same_folder(candidate, other, kind):
                continue
            account = account_of(candidate)
            if account_of(other) != account:
                continue
            shown = f"'{prefix}'" if prefix else "no prefix"
            problems.append(
                f"connections '{candidate.name}' and '{other.name}' share the {kind} folder "
                f"{folder(candidate, kind)} on {account.describe()} with {shown} in "
                "rules.order_number_prefix, so the warehouse cannot tell their orders apart: "
                "give each a different prefix (e.g. 'A-' and 'B-')"
            )
    return problems


def registry_conflicts(
    specs: Mapping[str, ConnectionSpec], account_of: AccountOf
) -> dict[str, list[str]]:
    """Prefix conflicts of a whole registry, by connection name (both sides are listed)."""
    found: dict[str, list[str]] = {}
    for name, spec in sorted(specs.items()):
        problems = prefix_conflicts(spec, specs.values(), account_of)
        if problems:
            found[name] = problems
    return found

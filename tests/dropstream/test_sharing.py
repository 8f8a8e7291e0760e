"""Who shares a warehouse folder, and the order-number prefix check (pure)."""

from __future__ import annotations

from dropstream.registry import parse_registry
from dropstream.sharing import Account, by_conn_id, group_key, prefix_conflicts, sharing
from dropstream.spec import parse_spec
from tests.specs import spec_dict


def spec(name: str, prefix: str = "", **paths: str):
    entry = spec_dict(name, rules={"order_number_prefix": prefix})
    entry["warehouse"]["paths"].update(paths)
    return parse_spec(name, entry)


SAME_LOGIN = Account("sftp", ("wh.example.com", "22", "acme"))


def one_login(_spec) -> Account:
    """Every connection logs in to the same warehouse account (separate Airflow Connections)."""
    return SAME_LOGIN


def test_same_account_and_folder_share():
    a, b, c = spec("a", "A-"), spec("b", "B-"), spec("c", "C-", shipments="/c/out")
    assert sharing(a, "shipments", [a, b, c], one_login) == ["a", "b"]
    assert sharing(c, "shipments", [a, b, c], one_login) == ["c"]
    assert sharing(c, "inventory", [a, b, c], one_login) == ["a", "b", "c"]


def test_different_accounts_do_not_share():
    a, b = spec("a"), spec("b")
    assert sharing(a, "shipments", [a, b], by_conn_id) == ["a"]  # two Airflow Connections


def test_account_is_only_looked_up_for_candidates():
    asked = []

    def account_of(s):
        asked.append(s.name)
        return SAME_LOGIN

    a, b = spec("a"), spec("b", shipments="/elsewhere")
    assert sharing(a, "shipments", [a, b], account_of) == ["a"]
    assert asked == []


def test_group_key_is_the_name_alone_and_shared_by_every_member():
    a, b = spec("a", "A-"), spec("b", "B-")
    assert group_key(a, "shipments", ["a"], SAME_LOGIN) == "a"
    shared = group_key(a, "shipments", ["a", "b"], SAME_LOGIN)
    assert shared == group_key(b, "shipments", ["a", "b"], SAME_LOGIN)
    assert shared.startswith("shared-")
    c = spec("c", "C-", shipments="/c/out")
    assert group_key(c, "shipments", ["c", "d"], SAME_LOGIN) != shared  # another folder


def test_same_prefix_in_a_shared_folder_names_both_connections_and_the_folder():
    a, b = spec("store-a"), spec("store-b")
    (orders, shipments) = prefix_conflicts(b, [a, b], one_login)
    assert "'store-b' and 'store-a'" in orders and "orders folder /in" in orders
    assert "sftp://wh.example.com/22/acme" in orders
    assert "shipments folder /out" in shipments
    assert prefix_conflicts(spec("store-b", "B-"), [a], one_login) == []
    assert prefix_conflicts(b, [a, b], by_conn_id) == []  # different accounts


def test_registry_with_account_lookup_reports_both_entries():
    registry = parse_registry(
        {
            "a": spec_dict("a"),
            "b": spec_dict("b"),
            "c": spec_dict("c", rules={"order_number_prefix": "C-"}),
        },
        account_of=one_login,
    )
    assert sorted(registry.specs) == ["c"]
    assert "'a' and 'b'" in str(registry.errors["a"]) and "'b' and 'a'" in str(registry.errors["b"])

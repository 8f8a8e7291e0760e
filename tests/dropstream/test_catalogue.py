"""The catalogue: one entry per platform, protocol and format, read by everything that lists them.

Checks that each entry's class is what the catalogue says, that a lookup of an unknown name
names the known ones, that reading the catalogue (parsing DAGs) imports no HTTP, SSH or AWS
library, and that ``dropstream`` never imports ``adapters`` (the only direction between the two
is ``include/adapters`` -> ``dropstream``).
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from dropstream import catalogue
from dropstream.catalogue import FORMATS, PLATFORMS, PROTOCOLS, LazyRegistry, Platform
from dropstream.errors import ConfigurationError
from dropstream.formats.base import FileFormat
from dropstream.stores import StoreAdapter, get_adapter
from dropstream.transports.base import Transport

ROOT = Path(__file__).resolve().parents[2]
PLUGINS = ROOT / "plugins" / "dropstream"


@pytest.mark.parametrize("name", PLATFORMS.names)
def test_every_platform_loads_its_adapter(name):
    cls = PLATFORMS.load(name)
    assert issubclass(cls, StoreAdapter)
    assert cls.platform == name
    adapter = get_adapter(name, "no_such_conn", connection_name="unit")  # no I/O
    assert isinstance(adapter, cls) and adapter.connection_name == "unit"


@pytest.mark.parametrize("name", PROTOCOLS.names)
def test_every_protocol_loads_its_transport(name):
    assert issubclass(PROTOCOLS.load(name), Transport)


@pytest.mark.parametrize("name", FORMATS.names)
def test_every_format_loads_its_file_format(name):
    assert issubclass(FORMATS.load(name), FileFormat)


def test_the_old_lookups_read_the_catalogue():
    import adapters
    from adapters.base import HttpStoreAdapter
    from adapters.base import StoreAdapter as OldName
    from dropstream.formats import FORMATS as FORMAT_NAMES
    from dropstream.spec import WarehousePaths
    from dropstream.transports import PROTOCOLS as PROTOCOL_NAMES

    assert tuple(sorted(PLATFORMS)) == adapters.PLATFORMS and adapters.get_adapter is get_adapter
    assert OldName is StoreAdapter and issubclass(HttpStoreAdapter, StoreAdapter)
    assert PROTOCOLS.names == PROTOCOL_NAMES and set(FORMAT_NAMES) == set(FORMATS)
    assert WarehousePaths().model_dump() == catalogue.DEFAULT_FOLDERS


@pytest.mark.parametrize(
    ("registry", "lookup"),
    [
        (PLATFORMS, lambda: get_adapter("magneto", "c")),
        (
            PROTOCOLS,
            lambda: __import__("dropstream.transports").transports.get_transport("gopher", "c"),
        ),
        (FORMATS, lambda: __import__("dropstream.formats").formats.get_format("csv")),
    ],
)
def test_an_unknown_name_lists_the_known_ones(registry, lookup):
    with pytest.raises(ConfigurationError) as err:
        lookup()
    message = str(err.value)
    assert registry.kind in message and "is not known" in message
    assert all(name in message for name in registry)


def test_a_bad_entry_is_refused_when_the_catalogue_is_read():
    with pytest.raises(ValueError, match="not module:Class"):
        Platform(key="x", display="X", implementation="adapters.x", conn_type="http",
                 field_mapping={})  # fmt: skip
    with pytest.raises(ValueError, match="store_token is not in its field_mapping"):
        Platform(key="x", display="X", implementation="adapters.x:X", conn_type="http",
                 field_mapping={"store_url": "host"}, secret_fields=("store_token",))  # fmt: skip
    entry = PLATFORMS["shopify"]
    with pytest.raises(ValueError, match="share a name"):
        LazyRegistry("store platform", entry, entry)


def test_store_options_come_from_the_platform_entry():
    assert PLATFORMS["ebay"].option_problems({"page_size": 50}) == []
    problems = PLATFORMS["ebay"].option_problems({"page_size": 500, "pagesize": 5})
    assert any("'pagesize' is not an option of ebay (known: page_size)" in p for p in problems)
    assert any(p.startswith("'page_size':") for p in problems)
    assert PLATFORMS["shopify"].option_problems({"x": 1}) == [
        "'x' is not an option of shopify (known: none)"
    ]


def test_the_form_shows_what_the_catalogue_says():
    from dropstream.setup.form import TITLES, setup_params

    params = setup_params([], tuple(sorted(PLATFORMS)))
    assert params["store_platform"].schema["values_display"] == {
        k: PLATFORMS[k].display for k in sorted(PLATFORMS)
    }
    assert params["warehouse_protocol"].schema["values_display"] == {
        p.key: p.choice for p in PROTOCOLS.values()
    }
    assert set(params["warehouse_format"].schema["values_display"]) == set(FORMATS)
    for form_field in catalogue.STORE_FIELDS:
        assert TITLES[form_field.name] == form_field.title
        assert (params[form_field.name].schema.get("format") == "password") == form_field.secret
    # Where a person finds a value on a platform is in the field's help, by platform.
    described = params["store_access_token"].schema["description_md"]
    assert (
        "**Shopify**" in described and PLATFORMS["shopify"].help["store_access_token"] in described
    )
    for flow, default in catalogue.DEFAULT_FOLDERS.items():
        assert params[f"{flow}_folder"].value == default


def _imports_of_adapters(path: Path) -> list[int]:
    tree = ast.parse(path.read_text(), str(path))
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            names = [node.module or ""]
        else:
            continue
        if any(n == "adapters" or n.startswith("adapters.") for n in names):
            lines.append(node.lineno)
    return lines


def test_dropstream_never_imports_the_adapters():
    """``include/adapters`` imports ``dropstream``, never the other way round: dropstream reaches
    an adapter only through the catalogue's ``"module:Class"`` (``LazyRegistry.load``)."""
    files = sorted(PLUGINS.rglob("*.py"))
    assert len(files) > 50  # the walk found the package
    offenders = {
        str(path.relative_to(ROOT)): lines
        for path in files
        if (lines := _imports_of_adapters(path))
    }
    assert offenders == {}


def test_reading_the_catalogue_imports_no_http_ssh_or_aws_library(tmp_path):
    """What a DAG parse does with the registry (every platform, protocol and format parsed, the
    setup form built) in a fresh interpreter: none of the libraries the implementations use."""
    script = tmp_path / "parse.py"
    script.write_text(
        "import json, sys\n"
        "from dropstream.catalogue import FORMATS, PLATFORMS, PROTOCOLS\n"
        "from dropstream.sandbox.specs import spec_dict\n"
        "from dropstream.spec import parse_spec\n"
        "from dropstream.setup.form import setup_params\n"
        "import adapters, adapters.options, dropstream.formats, dropstream.transports\n"
        "for platform in PLATFORMS:\n"
        "    for protocol in PROTOCOLS:\n"
        "        entry = spec_dict()\n"
        "        entry['store']['platform'] = platform\n"
        "        entry['warehouse']['protocol'] = protocol\n"
        "        parse_spec('acme', entry)\n"
        "setup_params([], adapters.PLATFORMS)\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    env = dict(
        os.environ, PYTHONPATH=os.pathsep.join(str(ROOT / p) for p in ("plugins", "include", "."))
    )
    out = subprocess.run(
        [sys.executable, str(script)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    loaded = set(json.loads(out.stdout.strip().splitlines()[-1]))
    heavy = {
        "requests",
        "paramiko",
        "boto3",
        "botocore",
        "adapters.http_client",
        "adapters.shopify",
    }
    assert "dropstream.catalogue" in loaded
    assert loaded & heavy == set()


NEW_PLATFORM = """
import json
from datetime import UTC, datetime

from dropstream import catalogue
from dropstream.catalogue import FormField, Platform, StoreOptions

# The edit a new platform makes to catalogue.py, made here before anything reads the catalogue:
class FakeShopOptions(StoreOptions):
    shelf: int | None = None

catalogue.STORE_FIELDS += (
    FormField("store_api_key", "API key (Fake Shop)", "The shop's API key.", secret=True),
)
catalogue.PLATFORMS._entries["fakeshop"] = Platform(
    key="fakeshop", display="Fake Shop", implementation="fakeshop:FakeShopAdapter",
    options=FakeShopOptions, conn_type="http",
    field_mapping={"store_url": "host", "store_api_key": "extra.api_key"},
    required_fields=("store_url", "store_api_key"), secret_fields=("store_api_key",),
    labels={"store_api_key": "the key under Settings > API"},
)
catalogue._check_store_fields()

# Everything else, untouched, picks it up:
import adapters
from dropstream.errors import SpecError
from dropstream.sandbox.specs import spec_dict
from dropstream.setup import connections
from dropstream.setup.form import setup_params
from dropstream.setup.validate import FormError, plan_setup
from dropstream.spec import parse_spec
from dropstream.stores import get_adapter

seen = {"platforms": list(adapters.PLATFORMS)}
entry = spec_dict()
entry["store"].update(platform="fakeshop", options={"shelf": 2})
seen["spec"] = parse_spec("acme", entry).store.platform
entry["store"]["options"] = {"shelve": 2}
try:
    parse_spec("acme", entry)
except SpecError as exc:
    seen["spec_error"] = str(exc)
params = setup_params([], adapters.PLATFORMS)
seen["choice"] = params["store_platform"].schema["values_display"]["fakeshop"]
seen["key_field"] = [params["store_api_key"].schema["format"],
                     params["store_api_key"].schema["description_md"]]
form = {k: p.value for k, p in params.items()}
form.update(connection_name="unit", merchant="acme", warehouse_name="W", store_name="S",
            warehouse_host="files.example", warehouse_login="u",
            warehouse_host_key="ssh-ed25519 AAAA", store_platform="fakeshop",
            store_url="https://fake.example")
now = datetime(2026, 11, 26, tzinfo=UTC)
try:
    plan_setup(form, {}, {"warehouse_password"}, now)
except FormError as exc:
    seen["missing"] = sorted(exc.fields)
plan = plan_setup(form, {}, {"warehouse_password", "store_api_key"}, now)
body = connections.store_body(plan, {"store_api_key": "k-123"}, None)
seen["body"] = [body["conn_type"], body["host"], body["extra"]]
seen["adapter"] = type(get_adapter("fakeshop", "c", {"shelf": 2})).__name__
print(json.dumps(seen))
"""

FAKE_ADAPTER = """
from dropstream.stores import StoreAdapter

class FakeShopAdapter(StoreAdapter):
    platform = "fakeshop"
    def test_connection(self): pass
    def fetch_orders(self, since, until): return iter(())
    def fetch_open_orders(self, created_since): return iter(())
    def push_inventory(self, levels): raise NotImplementedError
    def push_shipments(self, shipments): raise NotImplementedError
    def to_order(self, raw): raise NotImplementedError
"""


def test_a_new_platform_is_its_catalogue_entry_and_its_own_module(tmp_path):
    """What docs/platforms.md promises: the catalogue entry (and a new form field in
    STORE_FIELDS) plus the adapter's module make the spec, the setup form, its validation, the
    Connection body and get_adapter know the platform, with no other module edited."""
    (tmp_path / "fakeshop.py").write_text(FAKE_ADAPTER)
    (tmp_path / "new_platform.py").write_text(NEW_PLATFORM)
    paths = [str(ROOT / p) for p in ("plugins", "include", ".")] + [str(tmp_path)]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(paths))
    out = subprocess.run(
        [sys.executable, str(tmp_path / "new_platform.py")],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr[-3000:]
    seen = json.loads(out.stdout.strip().splitlines()[-1])
    assert "fakeshop" in seen["platforms"] and seen["spec"] == "fakeshop"
    assert "'shelve' is not an option of fakeshop (known: shelf)" in seen["spec_error"]
    assert seen["choice"] == "Fake Shop"
    assert seen["key_field"][0] == "password"
    assert "**Fake Shop**: the key under Settings > API" in seen["key_field"][1]
    assert seen["missing"] == ["store_api_key"]
    assert seen["body"] == ["http", "https://fake.example", {"api_key": "k-123"}]
    assert seen["adapter"] == "FakeShopAdapter"


def _rows(markdown: str) -> dict[str, str]:
    """Table rows of a page by their first cell's `code` (``| `key` | …``)."""
    rows = {}
    for line in markdown.splitlines():
        if line.startswith("| `"):
            rows[line.split("`")[1]] = line
    return rows


def test_the_docs_cover_every_catalogue_entry():
    """setup.md has a row per platform and protocol naming every form field and option key it
    reads; formats.md a section per format."""
    rows = _rows((ROOT / "docs" / "setup.md").read_text())
    for entry in (*PLATFORMS.values(), *PROTOCOLS.values()):
        assert entry.key in rows, f"docs/setup.md has no row for {entry.key}"
        missing = [
            f for f in (*entry.field_mapping, *entry.option_keys) if f not in rows[entry.key]
        ]
        assert missing == [], f"docs/setup.md's {entry.key} row leaves out {missing}"
    formats = (ROOT / "docs" / "formats.md").read_text()
    for name in FORMATS:
        assert f"\n## `{name}`\n" in formats

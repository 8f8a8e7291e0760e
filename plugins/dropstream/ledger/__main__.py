"""``python -m dropstream.ledger upgrade | current | revision -m MESSAGE``: the ledger's schema.

``upgrade`` brings the ledger at ``--url`` (default ``DROPSTREAM_LEDGER_URL``, else SQLite under
``AIRFLOW_HOME``) to the newest revision; run it once per release before the workers start.
"""

from __future__ import annotations

import argparse
import sys

from dropstream.errors import ConfigurationError
from dropstream.ledger import migrate
from dropstream.ledger.base import default_url


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dropstream.ledger", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    up = commands.add_parser("upgrade", help="migrate the ledger to the newest revision")
    up.add_argument("--url", help="SQLAlchemy URL (default: DROPSTREAM_LEDGER_URL)")
    up.add_argument("--revision", default="head", help="target revision (default: head)")
    now = commands.add_parser("current", help="print the ledger's revision and the newest one")
    now.add_argument("--url", help="SQLAlchemy URL (default: DROPSTREAM_LEDGER_URL)")
    new = commands.add_parser("revision", help="write the next migration (developers)")
    new.add_argument("-m", "--message", required=True, help="what the migration changes")
    new.add_argument(
        "--empty", action="store_true", help="no autogenerate: an empty upgrade/downgrade"
    )
    args = parser.parse_args(argv)

    try:
        if args.command == "upgrade":
            url = args.url or default_url()
            revision = migrate.upgrade(url, args.revision)
            print(f"ledger {_shown(url)} is at revision {revision}")
        elif args.command == "current":
            url = args.url or default_url()
            print(
                f"ledger {_shown(url)}: {migrate.current(url) or 'none'} (newest {migrate.head()})"
            )
        else:
            path = migrate.new_revision(args.message, autogenerate=not args.empty)
            print(f"wrote {path}: review it, then run the ledger tests")
    except ConfigurationError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


def _shown(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


if __name__ == "__main__":
    sys.exit(main())

"""Connect arguments for Airflow's own SQLite metadata DB under ``make run``.

Airflow's default waits 5 s for a SQLite lock; under the embedded default (standalone, the demo
running every minute, a person clicking through the UI) writers sometimes wait longer, and the
api-server then answers 500. ``scripts/run.sh`` points ``[database] sql_alchemy_connect_args``
(and its async twin) here when the metadata DB is SQLite. Production uses PostgreSQL.
"""

SYNC = {"timeout": 60}
ASYNC = {"timeout": 60}

"""The connection wizard behind the ``dropstream_setup`` DAG: form, checks, registration.

``form`` defines the trigger form (Airflow Params), ``validate`` turns a submitted form into a
plan without secrets, ``remote`` tests the warehouse and the store, ``api`` talks to Airflow's
REST API, ``tasks`` are the DAG's task callables. See ``docs/setup.md``.
"""

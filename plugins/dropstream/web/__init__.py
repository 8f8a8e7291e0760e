"""DropStream's pages and JSON API inside the Airflow api-server (see ``dropstream_plugin``)."""

# DropStream's image: Airflow 3.3.2 (Python 3.11) plus the run-time requirements, pinned by the
# same constraints the tests install. Built by `docker compose build` (docker-compose.yaml).
FROM apache/airflow:3.3.2-python3.11

COPY --chown=airflow:root requirements.txt constraints.txt /opt/dropstream/
RUN pip install --no-cache-dir -r /opt/dropstream/requirements.txt -c /opt/dropstream/constraints.txt

# Baked in so the image runs without the mounts too; docker-compose.yaml mounts the working
# copies over them (dags/, plugins/, include/).
COPY --chown=airflow:root dags/ /opt/airflow/dags/
COPY --chown=airflow:root plugins/ /opt/airflow/plugins/
COPY --chown=airflow:root include/ /opt/airflow/include/
ENV PYTHONPATH=/opt/airflow/plugins:/opt/airflow/include

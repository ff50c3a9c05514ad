"""Logpipe's batch jobs as an Airflow DAG, for teams that already run Airflow.

Each task calls the `logpipe` binary with the run's logical date, so Airflow only schedules:
the work, its atomic writes into the lake and its run history stay Logpipe's. The schedule and
the guarantees match `logpipe scheduler`'s built-in jobs:

- report_daily: `logpipe report daily --date {{ ds }}` at 00:15 UTC for the previous day
  (the logical date of a daily run is the start of the day it covers). A rerun replaces the
  day's report in one step, so retries and backfills are safe.
- service_analysis: `logpipe report services --date {{ ds }}` (the seed's service analysis),
  after the report, as the scheduler runs it.
- compaction: `logpipe jobs run compaction`, small files of closed hours merged, first; as in
  the scheduler, only on a local lake unless LOGPIPE_COMPACTION=on (on S3 or WebHDFS a
  reader listing the lake mid-compaction could count rows twice: docs/deploy.md).
- retention: `logpipe jobs run retention`, only when LOGPIPE_RETENTION_DAYS is set
  (off unless configured, as in the scheduler).

Catch-up runs the missed days oldest first, one run at a time (max_active_runs=1), and
retries back off exponentially. Settings come from the environment of the Airflow workers:

  LOGPIPE_BIN             the logpipe binary (default: logpipe on PATH)
  LOGPIPE_LAKE            the lake directory (default /data/lake)
  LOGPIPE_DAG_START       the first day to report, YYYY-MM-DD (default 2026-01-01)
  LOGPIPE_RETENTION_DAYS  enables the retention task, passed on as jobs.retention.days
  LOGPIPE_COMPACTION      auto (default: compact a local lake only), on or off
"""

import os
import shlex
from datetime import datetime, timedelta, timezone

from airflow import DAG
from airflow.operators.bash import BashOperator

LOGPIPE = shlex.quote(os.environ.get("LOGPIPE_BIN", "logpipe"))
LAKE = shlex.quote(os.environ.get("LOGPIPE_LAKE", "/data/lake"))
START = datetime.strptime(os.environ.get("LOGPIPE_DAG_START", "2026-01-01"), "%Y-%m-%d").replace(tzinfo=timezone.utc)
RETENTION_DAYS = os.environ.get("LOGPIPE_RETENTION_DAYS")
COMPACTION = os.environ.get("LOGPIPE_COMPACTION", "auto")
COMPACT = COMPACTION == "on" or (COMPACTION == "auto" and "://" not in LAKE)

default_args = {
    "owner": "logpipe",
    "retries": 3,
    "retry_delay": timedelta(minutes=2),
    "retry_exponential_backoff": True,
    "max_retry_delay": timedelta(minutes=30),
    "execution_timeout": timedelta(hours=1),
}

with DAG(
    dag_id="logpipe_daily",
    description="Logpipe's daily report, compaction and retention over the lake",
    schedule="15 0 * * *",
    start_date=START,
    catchup=True,
    max_active_runs=1,
    default_args=default_args,
    tags=["logpipe"],
) as dag:
    report_daily = BashOperator(
        task_id="report_daily",
        bash_command=f"{LOGPIPE} report daily --lake {LAKE} --date {{{{ ds }}}} --quiet",
    )
    service_analysis = BashOperator(
        task_id="service_analysis",
        bash_command=f"{LOGPIPE} report services --lake {LAKE} --date {{{{ ds }}}}",
    )
    report_daily >> service_analysis
    if COMPACT:
        compaction = BashOperator(
            task_id="compaction",
            bash_command=f"{LOGPIPE} jobs run compaction --lake {LAKE} --compaction on",
        )
        compaction >> report_daily
    if RETENTION_DAYS:
        retention = BashOperator(
            task_id="retention",
            bash_command=f"{LOGPIPE} jobs run retention --lake {LAKE}",
            env={"LOGPIPE_JOBS_RETENTION_DAYS": RETENTION_DAYS},
            append_env=True,
        )
        service_analysis >> retention

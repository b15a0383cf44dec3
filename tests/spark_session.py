"""One local SparkSession for the whole test run: `local[2]`, everything in one temporary directory.

The directory holds the warehouse (parquet tables), the Derby metastore, the
scratch space and the event log (uncompressed, so a test can search what
Spark recorded). The UI is off; the SQL tab's data is still kept by the
session's status store (`sql_tab_text`). Missing Java or PySpark is an error
that says what to install, never a skip.

    session = start_session(Path(tmp))
    session.spark.sql("SELECT 1").collect()
    session.event_log_text()
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

INSTALL_PYSPARK = ('install the Spark extra: pip install -e ".[spark]"  '
                   '(dbt-spark[session]~=1.11, pyspark>=4.3,<4.4)')
INSTALL_JAVA = ("install Java 17 or newer (Debian/Ubuntu: apt-get install openjdk-17-jre-headless) "
                "or point JAVA_HOME at one")
MIN_JAVA = 17


class SparkUnavailable(RuntimeError):
    """Spark cannot start here; the message says what to install."""


def java_version() -> int:
    """The major version of `$JAVA_HOME/bin/java`, else of `java` on PATH; SparkUnavailable if none."""
    home = os.environ.get("JAVA_HOME")
    java = str(Path(home) / "bin" / "java") if home else shutil.which("java")
    if not java or not Path(java).exists():
        where = f"JAVA_HOME={home} has no bin/java" if home else "JAVA_HOME is unset and no java is on PATH"
        raise SparkUnavailable(f"no Java found ({where}): {INSTALL_JAVA}")
    try:
        shown = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=60).stderr
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise SparkUnavailable(f"{java} -version failed ({exc}): {INSTALL_JAVA}") from None
    found = re.search(r'version "(\d+)(?:\.(\d+))?', shown)
    if not found:
        raise SparkUnavailable(f"cannot read the version of {java} ({shown.strip()[:200]!r}): {INSTALL_JAVA}")
    major = int(found.group(1)) if found.group(1) != "1" else int(found.group(2) or 0)
    if major < MIN_JAVA:
        raise SparkUnavailable(f"{java} is Java {major}; Spark 4 needs {MIN_JAVA}+: {INSTALL_JAVA}")
    return major


def check_requirements() -> None:
    """PySpark, dbt-spark and Java 17+ are here, or SparkUnavailable saying what to install."""
    missing = [name for name in ("pyspark", "dbt.adapters.spark") if importlib.util.find_spec(name) is None]
    if missing:
        raise SparkUnavailable(f"{' and '.join(missing)} not installed: {INSTALL_PYSPARK}")
    java_version()


def session_conf(base: Path) -> dict[str, str]:
    """The settings of the test session, everything under `base`."""
    derby = base / "derby"
    return {
        "spark.master": "local[2]",
        "spark.app.name": "veil-tests",
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
        "spark.sql.shuffle.partitions": "2",
        "spark.default.parallelism": "2",
        "spark.sql.session.timeZone": "UTC",
        "spark.local.dir": str(base / "local"),
        "spark.sql.warehouse.dir": str(base / "warehouse"),
        "spark.hadoop.javax.jdo.option.ConnectionURL": f"jdbc:derby:;databaseName={derby}/metastore_db;create=true",
        "spark.driver.extraJavaOptions": f"-Dderby.system.home={derby}",
        "spark.eventLog.enabled": "true",
        "spark.eventLog.dir": (base / "events").as_uri(),
        "spark.eventLog.compress": "false",
        "spark.pyspark.python": sys.executable,
        "spark.pyspark.driver.python": sys.executable,
    }


@dataclass
class SparkTestSession:
    spark: object   # pyspark.sql.SparkSession
    base: Path

    @property
    def events_dir(self) -> Path:
        return self.base / "events"

    def drain_listeners(self) -> None:
        """Wait until every listener (event log, SQL status store) has seen every event so far."""
        self.spark.sparkContext._jsc.sc().listenerBus().waitUntilEmpty()

    def event_log_text(self) -> str:
        """Everything the event log holds so far (all files, rolled or not)."""
        self.drain_listeners()
        return "\n".join(path.read_text(encoding="utf-8", errors="replace")
                         for path in sorted(self.events_dir.rglob("*")) if path.is_file())

    def sql_tab_text(self) -> str:
        """What the UI's SQL tab shows: each execution's description, details and plan."""
        self.drain_listeners()
        store = self.spark._jsparkSession.sharedState().statusStore()
        executions = store.executionsList()
        parts = []
        for i in range(executions.size()):
            execution = executions.apply(i)
            parts += [execution.description(), execution.details(), execution.physicalPlanDescription()]
        return "\n".join(str(part) for part in parts)

    def stop(self) -> None:
        self.spark.stop()


def start_session(base: Path) -> SparkTestSession:
    """Start the session (Hive catalog, as dbt-spark's `method: session` asks for); SparkUnavailable if it cannot."""
    check_requirements()
    for folder in ("local", "warehouse", "derby", "events"):
        (base / folder).mkdir(parents=True, exist_ok=True)
    from pyspark.sql import SparkSession

    # Python workers run this interpreter (with veil importable), not whatever `python3` is first on PATH
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    builder = SparkSession.builder
    for key, value in session_conf(base).items():
        builder = builder.config(key, value)
    hidden = {name: os.environ.pop(name) for name in list(os.environ) if name.startswith("VEIL_")}
    try:   # the JVM inherits the environment, and SQL can read it: no shell's VEIL_KEY in there
        spark = builder.enableHiveSupport().getOrCreate()
    except Exception as exc:  # noqa: BLE001 - the JVM did not start: say so, with what to check
        raise SparkUnavailable(f"the Spark session did not start ({str(exc).splitlines()[0]}): "
                               f"{INSTALL_JAVA}; {INSTALL_PYSPARK}") from None
    finally:
        os.environ.update(hidden)
    spark.sparkContext.setLogLevel("FATAL")   # failing UDFs are expected in tests; their errors reach Python
    return SparkTestSession(spark, base)

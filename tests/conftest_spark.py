"""The `spark` fixture: one local SparkSession for the whole run (tests/spark_session.py).

Loaded from tests/conftest.py (`pytest_plugins`). Without Java 17+ or PySpark
a test that asks for it fails with what to install; it is never skipped.
"""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def spark_session(tmp_path_factory):
    """The `SparkTestSession`: `.spark` (the SparkSession), `.event_log_text()`, `.sql_tab_text()`."""
    from spark_session import SparkUnavailable, start_session

    try:
        session = start_session(tmp_path_factory.mktemp("spark"))
    except SparkUnavailable as exc:
        pytest.fail(f"Spark tests cannot run: {exc}", pytrace=False)
    try:
        yield session
    finally:
        session.stop()


@pytest.fixture(scope="session")
def spark(spark_session):
    """The shared SparkSession itself."""
    return spark_session.spark

"""Run dbt on Spark (dbt-spark, `method: session`) with veil's keyed functions in its session.

dbt-spark's session mode has no plugin hook: each statement runs through
`SparkSession.builder.enableHiveSupport().getOrCreate().sql(...)` in the dbt
process, and in classic (non-Connect) PySpark `getOrCreate()` returns the
process's one instantiated session. So veil starts that session first,
registers its functions on it (veil.spark_functions: the keys stay in this
process and its Python workers), checks that `getOrCreate()` now returns it,
and runs dbt in the same process through `dbtRunner`:

    result = run_dbt(["build"], project_dir="path/to/project")
    result.success

What is refused (UsageError, exit 2), because the functions would not be
where dbt's SQL runs: a target that is not `type: spark` with
`method: session`, and Spark Connect (`SPARK_REMOTE`, `SPARK_CONNECT_MODE_ENABLED`
or `spark.remote`), whose sessions live in a server veil does not start.

While the session starts and dbt runs, `VEIL_KEY` is taken out of the
process environment (and put back afterwards): the JVM inherits the
environment, and Spark SQL can read it (`reflect('java.lang.System', 'getenv', ...)`),
as can a model's `{{ env_var() }}`.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from veil.errors import UsageError
from veil.keyring import load_keyring
from veil.keys import KEY_ENV
from veil.project import Project
from veil.spark_functions import register_functions

if TYPE_CHECKING:
    from dbt.cli.main import dbtRunnerResult
    from pyspark.sql import SparkSession

SECRET_ENV = (KEY_ENV,)   # variables whose value *is* key material (the others hold paths)
CONNECT_ENV = ("SPARK_REMOTE", "SPARK_CONNECT_MODE_ENABLED")
INSTALL = 'install the Spark extra: pip install "veil[spark]" (dbt-spark[session]~=1.11, pyspark>=4.3,<4.4)'


def _option(args: Sequence[str], *names: str) -> str | None:
    """The value of a dbt command-line option (`--target x` or `--target=x`), or None.

    >>> _option(["build", "-t", "spark", "--profiles-dir=p"], "--target", "-t"), _option(["build"], "-t")
    ('spark', None)
    """
    for i, arg in enumerate(args):
        for name in names:
            if arg == name and i + 1 < len(args):
                return args[i + 1]
            if arg.startswith(name + "="):
                return arg[len(name) + 1:]
    return None


def session_target(project: Project) -> dict[str, Any]:
    """The project's dbt target, which must be dbt-spark's `method: session`; UsageError otherwise."""
    target = project.target
    if target.get("type") != "spark" or str(target.get("method", "")).lower() != "session":
        raise UsageError(f"the dbt target is type {target.get('type')!r}, method {target.get('method')!r}: "
                         "veil registers its Spark functions only for dbt-spark's `type: spark`, `method: session` "
                         "(an in-process session); for a cluster see README \"Spark\"")
    return target


def _refuse_connect(conf: Mapping[str, str], env: Mapping[str, str]) -> None:
    remote = [name for name in CONNECT_ENV if env.get(name)] + (["spark.remote"] if conf.get("spark.remote") else [])
    if remote:
        raise UsageError(f"{remote[0]} is set: Spark Connect sessions live in the Connect server, where veil "
                         "registers nothing from here; unset it to build in-process, or see README \"Spark\"")


@contextlib.contextmanager
def without_secrets(names: Sequence[str] = SECRET_ENV) -> Iterator[None]:
    """`os.environ` without the key-valued variables for the duration; restored afterwards.

    >>> os.environ["VEIL_KEY"] = "00" * 32
    >>> with without_secrets():
    ...     "VEIL_KEY" in os.environ
    False
    >>> os.environ.pop("VEIL_KEY") == "00" * 32
    True
    """
    saved = {name: os.environ.pop(name) for name in names if name in os.environ}
    try:
        yield
    finally:
        os.environ.update(saved)


def spark_session(conf: Mapping[str, str] | None = None) -> SparkSession:
    """This process's SparkSession (Hive catalog, as dbt-spark asks for), created with `conf` if there is none.

    An existing session is returned as it is: its static settings cannot change.
    """
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise UsageError(f"PySpark is not installed: {INSTALL}") from None
    # Python workers run this interpreter (veil importable), not whatever `python3` is first on PATH
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    builder = SparkSession.builder.enableHiveSupport()
    for key, value in (conf or {}).items():
        builder = builder.config(key, value)
    try:
        with without_secrets():
            return builder.getOrCreate()
    except Exception as exc:  # noqa: BLE001 - the JVM did not start (no Java, a bad setting): one line
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise UsageError(f"the Spark session did not start: {first} (Spark 4 needs Java 17+)") from None


def prepare_session(project: Project, conf: Mapping[str, str] | None = None,
                    session: SparkSession | None = None) -> SparkSession:
    """The session dbt will use, with veil's functions registered on it (keys from the project's environment).

    `conf`: settings for a new session, over the target's `server_side_parameters`.
    """
    target = session_target(project)
    settings = {str(k): str(v) for k, v in (target.get("server_side_parameters") or {}).items()}
    settings.update(conf or {})
    _refuse_connect(settings, project.env)
    keyring = load_keyring(project.env)
    spark = session if session is not None else spark_session(settings)
    register_functions(spark, keyring, project.env)
    from pyspark.sql import SparkSession

    with without_secrets():
        found = SparkSession.builder.enableHiveSupport().getOrCreate()
    if found is not spark:
        raise UsageError("dbt-spark would not run on the session veil registered its functions on "
                         "(another SparkSession is this process's default); stop it first")
    return spark


def run_dbt(args: Sequence[str], project_dir: str | Path = ".", env: Mapping[str, str] | None = None,
            conf: Mapping[str, str] | None = None, session: SparkSession | None = None) -> dbtRunnerResult:
    """`dbt <args>` in this process, on a SparkSession that holds veil's functions.

    `env` is where veil reads the keys and the target (default `os.environ`);
    dbt itself reads `os.environ`. `--project-dir` is added from `project_dir`
    unless `args` has it; `--target` and `--profiles-dir` in `args` are honoured
    when veil reads the target. The session stays up afterwards (a second run
    in the process reuses it).
    """
    from dbt.cli.main import dbtRunner

    args = list(args)
    environment = dict(os.environ if env is None else env)
    target, profiles = _option(args, "--target", "-t"), _option(args, "--profiles-dir")
    if target:
        environment["DBT_TARGET"] = target
    if profiles:
        environment["DBT_PROFILES_DIR"] = str(Path(profiles).resolve())
    project = Project.load(project_dir, environment)
    prepare_session(project, conf, session)
    if _option(args, "--project-dir") is None:
        args += ["--project-dir", str(project.root)]
    with without_secrets():
        return dbtRunner().invoke(args)

"""Uses followed across dbt models: a mart reading a staging view uses the raw columns it carries."""

from __future__ import annotations

import json
import shutil

import pytest

from helpers import REPO
from veil.lint.config import LintConfig
from veil.lint.run import make_linter


def node(name, sql, depends=()):
    return {"resource_type": "model", "name": name, "alias": name, "original_file_path": f"models/{name}.sql",
            "compiled_code": sql, "depends_on": {"nodes": [f"model.p.{d}" for d in depends]}}


MANIFEST = {"nodes": {
    "model.p.stg_users": node("stg_users", 'select user_id, email as email_address, country, ssn from "w"."raw"."users"'),
    "model.p.stg_masked": node("stg_masked", 'select user_id, veil_mask_domain_only(email) as email from "w"."raw"."users"'),
    "model.p.int_users": node("int_users", "select s.user_id, s.email_address as contact from stg_users s",
                              depends=["stg_users"]),
}}


@pytest.fixture()
def linter(tmp_path):
    shutil.copytree(REPO / "policies", tmp_path / "policies")
    (tmp_path / "target").mkdir()
    (tmp_path / "target/manifest.json").write_text(json.dumps(MANIFEST))
    return make_linter(tmp_path, LintConfig(), "analytics")


def vl002(linter, sql):
    return [f.message for f in linter.lint_text(sql, "q.sql") if f.rule == "VL002"]


def test_staging_view_carries_the_raw_column(linter):
    messages = vl002(linter, "select country, email_address from stg_users")
    assert len(messages) == 1 and messages[0].startswith("users.email (source('raw', 'users')) is used unmasked")


def test_followed_through_two_models(linter):
    assert len(vl002(linter, "select contact from main.int_users")) == 1


def test_masked_in_staging_passes(linter):
    assert vl002(linter, "select email, country from stg_masked") == []


def test_columns_without_pii_pass(linter):
    assert vl002(linter, "select user_id, country from stg_users") == []


def test_clauses_count_across_models(linter):
    messages = vl002(linter, "select country from stg_users where ssn is not null")
    assert len(messages) == 1 and "users.ssn" in messages[0] and "(in where;" in messages[0]

"""`veil erase` on dbt projects unlike the reference one: the subject's rows go, nobody else's.

Each fixture project (tests/fixtures/projects/) is copied, built with dbt,
given one erasure request, and erased with `veil erase --project-dir P` run
from another directory. Whose a row is comes from the test's own joins over
the fixture's data (tests/erasure_projects.py), never from veil. Ids overlap
on purpose: order 7 and payment 7 are not customer 7's, so erasing by a
column called `id` deletes other people's rows and keeps the subject's.
"""

from __future__ import annotations

import json
import subprocess
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pytest

from erasure_projects import SPECS, ShopProject, copy_project, of_subject, others_changed, rows_with

pytestmark = pytest.mark.dbt


@dataclass
class Erasure:
    """One project taken through build, request, erase (from elsewhere), report, rebuild."""

    project: ShopProject
    request_id: str
    elsewhere: Path
    before: Counter
    seeds_before: Counter
    marked_before: dict                 # rows per (relation, column, value) of the spec's kept and gone lists
    erase: subprocess.CompletedProcess
    after: Counter
    marked_after: dict
    seeds_after: Counter
    report: subprocess.CompletedProcess
    rebuilt: Counter
    seeds_rebuilt: Counter

    @property
    def erased(self) -> int:
        return self.project.spec.erased

    @property
    def registry(self) -> str:
        return self.project.spec.registry


def _erase_from_elsewhere(project: ShopProject, tmp: Path) -> tuple[Path, subprocess.CompletedProcess]:
    elsewhere = tmp / "elsewhere"
    elsewhere.mkdir()
    return elsewhere, project.veil("erase", cwd=elsewhere)


def _report(project: ShopProject, request_id: str, cwd: Path) -> dict:
    report = project.veil("audit", "report", "--format", "json", cwd=cwd)
    assert report.returncode == 0, report.stdout + report.stderr
    entries = [e for e in json.loads(report.stdout)["requests"] if e["request_id"] == request_id]
    assert len(entries) == 1, report.stdout
    return entries[0]


def _output(result: subprocess.CompletedProcess) -> str:
    return f"exit {result.returncode}\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}"


def _marked(project: ShopProject) -> dict:
    spec = project.spec
    return {(r, c, v): rows_with(project.warehouse, r, c, v) for r, c, v in spec.kept + spec.gone}


@pytest.fixture(scope="module", params=sorted(SPECS))
def erasure(request, tmp_path_factory) -> Erasure:
    tmp = tmp_path_factory.mktemp(request.param)
    project = copy_project(request.param, tmp)
    project.build()
    request_id = f"req-{project.spec.erased}"
    project.request_erasure(project.spec.erased, request_id)
    before, seeds_before = project.row_counts(), project.seed_file_counts()
    marked_before = _marked(project)
    elsewhere, erase = _erase_from_elsewhere(project, tmp)
    after, seeds_after, marked_after = project.row_counts(), project.seed_file_counts(), _marked(project)
    report = project.veil("audit", "report", "--format", "json", cwd=elsewhere)
    project.rebuild()
    return Erasure(project=project, request_id=request_id, elsewhere=elsewhere, before=before,
                   seeds_before=seeds_before, marked_before=marked_before, erase=erase, after=after,
                   marked_after=marked_after, seeds_after=seeds_after, report=report, rebuilt=project.row_counts(),
                   seeds_rebuilt=project.seed_file_counts())


def test_control_the_subject_is_in_every_relation_and_seed_file_before(erasure):
    """Without this the other tests could pass on a subject that was never there."""
    relations = {relation for relation, _ in erasure.before}
    holding = {relation for relation, _ in of_subject(erasure.before, erasure.erased)}
    assert relations - holding == set()
    assert {f for f, _ in of_subject(erasure.seeds_before, erasure.erased)} == set(erasure.project.spec.seed_files)
    assert [key for key, rows in erasure.marked_before.items() if not rows] == []


def test_erase_succeeds_from_another_directory(erasure):
    assert erasure.erase.returncode == 0, _output(erasure.erase)
    assert "1 requests completed" in erasure.erase.stdout, _output(erasure.erase)


def test_the_subject_is_gone_from_every_table_model_seed_and_seed_file(erasure):
    left = {key: n for key, n in of_subject(erasure.after, erasure.erased).items() if key[0] != erasure.registry}
    assert left == {}, f"rows of subject {erasure.erased} left after erasure:\n{_output(erasure.erase)}"
    assert of_subject(erasure.seeds_after, erasure.erased) == {}


def test_the_registry_keeps_the_request(erasure):
    assert erasure.after[erasure.registry, erasure.erased] == 1
    assert erasure.rebuilt[erasure.registry, erasure.erased] == 1


def test_nobody_elses_rows_are_lost(erasure):
    assert others_changed(erasure.before, erasure.after, erasure.erased) == {}, _output(erasure.erase)
    assert others_changed(erasure.seeds_before, erasure.seeds_after, erasure.erased) == {}


def test_the_subjects_own_rows_go_and_other_subjects_rows_with_the_same_ids_stay(erasure):
    spec = erasure.project.spec
    assert {key: erasure.marked_after[key] for key in spec.gone} == {key: 0 for key in spec.gone}
    assert {key: erasure.marked_after[key] for key in spec.kept} == {key: erasure.marked_before[key] for key in spec.kept}


def test_the_subject_stays_gone_after_dbt_seed_and_build(erasure):
    left = {key: n for key, n in of_subject(erasure.rebuilt, erasure.erased).items() if key[0] != erasure.registry}
    assert left == {}
    assert of_subject(erasure.seeds_rebuilt, erasure.erased) == {}
    assert others_changed(erasure.before, erasure.rebuilt, erasure.erased) == {}


def test_the_audit_report_says_completed(erasure):
    assert erasure.report.returncode == 0, _output(erasure.report)
    entries = {e["request_id"]: e for e in json.loads(erasure.report.stdout)["requests"]}
    assert entries[erasure.request_id]["status"] == "completed", entries[erasure.request_id]


def test_state_lives_under_the_project_not_the_working_directory(erasure):
    assert (erasure.project.path / ".veil" / "audit.duckdb").is_file()
    assert sorted(p.name for p in erasure.elsewhere.iterdir()) == []


def _systems(entry: dict) -> list[tuple]:
    return sorted((s["system"], s.get("kind"), s.get("rows"), s["status"]) for s in entry["systems"])


def test_erase_from_inside_the_project_and_from_elsewhere_agree(tmp_path):
    inside = copy_project("classic_shop", tmp_path / "inside")
    outside = copy_project("classic_shop", tmp_path / "outside")
    erased = inside.spec.erased
    for project in (inside, outside):
        project.build()
        project.request_erasure(erased, "req-a")
    from_inside = inside.veil("erase")                              # cwd: the project
    elsewhere, from_outside = _erase_from_elsewhere(outside, tmp_path)
    assert (from_inside.returncode, from_outside.returncode) == (0, 0), _output(from_inside) + _output(from_outside)
    assert inside.row_counts() == outside.row_counts()
    assert inside.seed_file_counts() == outside.seed_file_counts()
    for project in (inside, outside):
        assert (project.path / ".veil" / "audit.duckdb").is_file()
    assert list(elsewhere.iterdir()) == []
    report_inside, report_outside = _report(inside, "req-a", inside.path), _report(outside, "req-a", elsewhere)
    assert report_inside["status"] == report_outside["status"] == "completed"
    assert _systems(report_inside) == _systems(report_outside)
    assert list(elsewhere.iterdir()) == []


def test_a_mart_whose_subject_cannot_be_traced_keeps_the_request_open_as_unresolved(tmp_path):
    project = copy_project("classic_shop", tmp_path, overlay="overlays/untraceable_mart")
    project.build()
    erased, untraceable = project.spec.erased, "main.customer_fingerprints"
    project.request_erasure(erased, "req-u")
    before = project.row_counts()
    assert before[untraceable, erased] == 1          # control: the subject's row is there, under a hash
    elsewhere, erase = _erase_from_elsewhere(project, tmp_path)
    lines = (erase.stdout + erase.stderr).splitlines()
    assert erase.returncode == 1, _output(erase)
    assert [line for line in lines if "customer_fingerprints" in line and "unresolved" in line], _output(erase)
    assert "1 requests completed" not in lines
    after = project.row_counts()
    assert {k: n for k, n in after.items() if k[0] == untraceable} == {
        k: n for k, n in before.items() if k[0] == untraceable}, "nothing may be deleted from the untraceable mart"
    assert others_changed(before, after, erased) == {}
    entry = _report(project, "req-u", elsewhere)
    assert entry["status"] != "completed"
    assert "unresolved" in json.dumps(entry), entry
    assert list(elsewhere.iterdir()) == []
    # the one untraceable mart holds the request open; it does not stop the erasure everywhere else
    left = {k: n for k, n in of_subject(after, erased).items() if k[0] not in {untraceable, project.spec.registry}}
    assert left == {}, _output(erase)

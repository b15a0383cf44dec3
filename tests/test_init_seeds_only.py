"""From nothing to `dbt build` green with veil, on a project of seeds only, with no policy typed by hand.

The README's quick start, as a test: a dbt project unlike the reference one
(its subject column is `id`, its child tables reach the subject through a
foreign key, it has no consent log and no deletion registry) goes through
`veil init` (drafts, scaffolds), a review (`veil classify --check`, and the
drafts read as a reviewer would), `veil compile` and `dbt build`. Then a
deletion request appended to the scaffolded registry reaches every table.
"""

from __future__ import annotations

import csv
import random

import duckdb
import pytest
import yaml
from dbt_runner import env_for, run
from helpers import write_files

pytestmark = pytest.mark.dbt

FIRST = ["Ana", "Bruno", "Chloé", "Dmitri", "Eva", "Farid", "Greta", "Hugo", "Inés", "Jonas", "Karin", "Luis"]
LAST = ["Moreau", "Schmidt", "García", "Rossi", "Novak", "Dubois", "Weber", "López", "Fischer", "Martin"]
MEMBERS, BOOKINGS = 40, 120


def _seeds() -> dict[str, str]:
    r = random.Random(3)
    members = ["id,full_name,email_address,mobile,date_of_birth,notes,tier,joined_on"]
    for i in range(1, MEMBERS + 1):
        first, last = r.choice(FIRST), r.choice(LAST)
        note = f"prefers contact at {first.lower()}{i}@mail.example" if i % 7 == 0 else r.choice(
            ["renewed", "paid in cash", "asked about yoga"])
        members.append(f"{i},{first} {last},{first.lower()}.{last.lower()}{i}@club.example,+1-202-555-01{i:02d},"
                       f"{1950 + i}-0{1 + i % 9}-1{i % 9},{note},{r.choice(['gold', 'silver'])},2024-0{1 + i % 9}-01")
    bookings = ["booking_id,member_id,court,booked_at,fee,client_ip"]
    payments = ["payment_id,booking_id,amount,paid_at"]
    for k in range(1, BOOKINGS + 1):
        bookings.append(f"{k},{1 + k % MEMBERS},{1 + k % 5},2025-0{1 + k % 9}-1{k % 9} 10:00:00,{(k % 7) * 2.5:.2f},"
                        f"10.{k % 200}.{k % 13}.{1 + k % 250}")
        payments.append(f"{k},{k},{(k % 7) * 2.5:.2f},2025-0{1 + k % 9}-1{k % 9} 11:00:00")
    return {"seeds/members.csv": "\n".join(members) + "\n", "seeds/bookings.csv": "\n".join(bookings) + "\n",
            "seeds/payments.csv": "\n".join(payments) + "\n"}


PROJECT = {
    "dbt_project.yml": "name: club\nversion: '1.0.0'\nconfig-version: 2\nprofile: club\n",
    "profiles.yml": ("club:\n  target: dev\n  outputs:\n    dev:\n      type: duckdb\n"
                     "      path: \"{{ env_var('VEIL_WAREHOUSE') }}\"\n      threads: 2\n"),
}


def _rows(con, table: str) -> list:
    return con.execute(f"SELECT * FROM {table} ORDER BY ALL").fetchall()


def test_seeds_only_project_from_nothing_to_a_green_build(tmp_path):
    project = write_files(tmp_path / "club", {**PROJECT, **_seeds()})
    warehouse = tmp_path / "club.duckdb"
    env = env_for(project, warehouse)

    init = run("veil", ["init"], project, env)
    assert init.returncode == 0, init.stderr
    assert sorted(p.name for p in (project / "policies/tables").iterdir()) == [
        "bookings.yml", "members.yml", "payments.yml"]
    assert ".veil/" in (project / ".gitignore").read_text().splitlines()
    plugin = "plugins: [{module: veil.dbt_duckdb}]"
    assert plugin in init.stdout
    # the one line a user adds to profiles.yml, as init says
    profiles = project / "profiles.yml"
    profiles.write_text(profiles.read_text() + f"      {plugin}\n")

    # review: every drafted column says what it is and why; nothing needs an edit
    members = yaml.safe_load((project / "policies/tables/members.yml").read_text())
    assert members["subject"] == "id"
    drafted = {c["name"]: c["pii_classification"] for c in members["schema"]}
    assert drafted == {"id": "PSEUDONYMOUS", "full_name": "DIRECT_PII", "email_address": "DIRECT_PII",
                       "mobile": "DIRECT_PII", "date_of_birth": "QUASI_PII", "notes": "DIRECT_PII",
                       "tier": "NON_PII", "joined_on": "NON_PII"}
    assert "values: 100% of 40 sampled values are valid email addresses" in (
        project / "policies/tables/members.yml").read_text()
    payments = yaml.safe_load((project / "policies/tables/payments.yml").read_text())
    assert payments["subject"] == {"via": "booking_id", "relation": "ref('bookings')", "key": "booking_id"}
    bookings = yaml.safe_load((project / "policies/tables/bookings.yml").read_text())
    assert bookings["subject"] == "member_id"
    assert {c["name"]: c["pii_classification"] for c in bookings["schema"]}["client_ip"] == "QUASI_PII"
    veil_yml = yaml.safe_load((project / "policies/veil.yml").read_text())
    assert veil_yml["erasure"]["relation"] == "ref('veil_deletion_requests')"
    assert veil_yml["consent"]["relation"] == "ref('veil_consent_log')"

    compiled = run("veil", ["compile"], project, env)
    assert compiled.returncode == 0, compiled.stderr
    build = run("dbt", ["build"], project, env)
    assert build.returncode == 0, build.stdout[-3000:]
    assert "ERROR=0" in build.stdout and "veil_no_raw_values_analyst__members" in build.stdout
    check = run("veil", ["classify", "--check"], project, env)
    assert check.returncode == 0, check.stdout + check.stderr

    raw = list(csv.DictReader((project / "seeds/members.csv").open(encoding="utf-8")))
    with duckdb.connect(str(warehouse), read_only=True) as con:
        analyst = con.execute("SELECT * FROM analyst__members").fetchall()
        columns = [c[0] for c in con.execute("DESCRIBE analyst__members").fetchall()]
        before = {t: _rows(con, f"analyst__{t}") for t in ("members", "bookings", "payments")}
    assert "full_name" not in columns and "notes" not in columns and "mobile" not in columns
    flat = {str(v) for row in analyst for v in row}
    assert any(r["email_address"] in flat for r in raw) is False          # emails: masked to their domain
    assert any(r["full_name"] in flat for r in raw) is False
    assert len(analyst) == MEMBERS

    # a deletion request, appended to the scaffolded registry, reaches the subject's rows in every table
    registry = project / "seeds/veil_deletion_requests.csv"
    registry.write_text(registry.read_text().rstrip("\n") + "\nr-1,7,2026-01-02 00:00:00\n")
    rebuild = run("dbt", ["build"], project, env)
    assert rebuild.returncode == 0, rebuild.stdout[-3000:]
    with duckdb.connect(str(warehouse), read_only=True) as con:
        after = {t: _rows(con, f"analyst__{t}") for t in ("members", "bookings", "payments")}
        bookings_of_7 = {b for (b,) in con.execute("SELECT booking_id FROM bookings WHERE member_id = 7").fetchall()}
    assert bookings_of_7
    assert after["members"] == [r for r in before["members"] if r[0] != 7]
    assert after["bookings"] == [r for r in before["bookings"] if r[1] != 7]
    assert after["payments"] == [r for r in before["payments"] if r[1] not in bookings_of_7]

"""Cross-reference checks: everything pydantic cannot see from one file.

Each check is a plain function returning problems; `validate_policies` runs
them all, so one run reports every mistake.
"""

from __future__ import annotations

from collections.abc import Iterator

from sqlglot import exp

from veil.errors import Problem
from veil.policy.limits import echo
from veil.policy.loaded import LoadedTable, Policies
from veil.policy.models import ColumnPolicy
from veil.policy.names import identifier_problem
from veil.policy.purposes import PURPOSE_NAME
from veil.policy.relation import parse_relation
from veil.policy.yaml_lines import line_of
from veil.strategies import STRATEGIES, MaskContext
from veil.types import TypeFamily


def _project_problems(policies: Policies) -> Iterator[Problem]:
    project, path = policies.project, policies.project_file

    def at(*loc: object) -> int | None:
        return line_of(policies.project_doc, loc)

    for name in project.purposes:
        if not PURPOSE_NAME.match(name):
            yield Problem(path, at("purposes", name), f"purposes.{name}",
                          "purpose names are lowercase words joined by dots, e.g. `marketing.email`")
    for name, audience in project.audiences.items():
        problem = identifier_problem(name)
        if problem:
            yield Problem(path, at("audiences", name), f"audiences.{name}", f"audience name {problem}")
        if audience.purpose not in project.purposes:
            yield Problem(path, at("audiences", name, "purpose"), f"audiences.{name}.purpose",
                          f"unknown purpose {echo(audience.purpose)}; declare it under `purposes:`")
    for name, audience in project.audiences.items():
        for index, target in enumerate(audience.may_reveal):
            table, _, column = target.partition(".")
            loaded = policies.tables.get(table)
            if loaded is None or not column or loaded.policy.column(column) is None:
                yield Problem(path, at("audiences", name, "may_reveal", index), f"audiences.{name}.may_reveal",
                              f"{echo(target)} is not a <table>.<column> of the policies")
    if project.erasure is not None:
        for table in project.erasure.legal_holds.tables:
            if table not in policies.tables:
                yield Problem(path, at("erasure", "legal_holds", "tables", table), f"erasure.legal_holds.tables.{table}",
                              f"{echo(table)} is not a policy table")
    for key in ("consent", "erasure"):
        spec = getattr(project, key)
        if spec is not None:
            try:
                parse_relation(spec.relation)
            except ValueError as exc:
                yield Problem(path, at(key, "relation"), f"{key}.relation", str(exc))


def _purpose_problems(table: LoadedTable, column: ColumnPolicy, index: int,
                      purposes: set[str]) -> Iterator[Problem]:
    handling = column.data_handling
    base = ("schema", index, "data_handling")
    for key in ("allowed_uses", "not_allowed"):
        for position, purpose in enumerate(getattr(handling, key)):
            if purpose not in purposes:
                yield Problem(table.path, table.line((*base, key, position)),
                              f"schema[{index}].data_handling.{key}",
                              f"unknown purpose {echo(purpose)} for column {echo(column.name)}; declare it in policies/veil.yml")
    for purpose in sorted(set(handling.allowed_uses) & set(handling.not_allowed)):
        yield Problem(table.path, table.line((*base, "not_allowed")),
                      f"schema[{index}].data_handling.not_allowed",
                      f"purpose {echo(purpose)} is both allowed and not allowed for column {echo(column.name)}")
    for purpose in handling.masking:
        if purpose not in purposes:
            yield Problem(table.path, table.line((*base, "masking", purpose)),
                          f"schema[{index}].data_handling.masking.{purpose}",
                          f"unknown purpose {echo(purpose)} for column {echo(column.name)}; declare it in policies/veil.yml")


def _strategy_problems(table: LoadedTable, column: ColumnPolicy, index: int) -> Iterator[Problem]:
    for purpose, rule in column.data_handling.masking.items():
        loc = ("schema", index, "data_handling", "masking", purpose)
        key = f"schema[{index}].data_handling.masking.{purpose}"
        strategy = STRATEGIES.get(rule.strategy)
        if strategy is None:
            known = ", ".join(sorted(STRATEGIES))
            yield Problem(table.path, table.line(loc), key,
                          f"unknown strategy {echo(rule.strategy)} for column {echo(column.name)}; expected one of {known}")
            continue
        unknown = sorted(set(rule.options) - strategy.options)
        if unknown:
            yield Problem(table.path, table.line(loc), key,
                          f"strategy {echo(rule.strategy)} takes no option {', '.join(map(echo, unknown))}")
        else:
            try:
                strategy.build(exp.column("x"), MaskContext(options=rule.options, table=table.name, column=column.name))
            except ValueError as exc:
                yield Problem(table.path, table.line(loc), key, f"strategy {echo(rule.strategy)}: {exc}")
        if strategy.fits is None:
            continue
        families = "/".join(sorted(f.value for f in strategy.fits))
        if column.type is None:
            yield Problem(table.path, table.line(loc), key,
                          f"strategy {echo(rule.strategy)} needs a {families} column: declare `type:` for {echo(column.name)}")
        elif column.type.family not in strategy.fits:
            yield Problem(table.path, table.line(loc), key,
                          f"strategy {echo(rule.strategy)} does not fit column {echo(column.name)} of type "
                          f"{column.type.value}: it needs a {families} column")


def _table_problems(table: LoadedTable, policies: Policies) -> Iterator[Problem]:
    policy, path = table.policy, table.path
    purposes = set(policies.project.purposes)
    try:
        table.relation
    except ValueError as exc:
        yield Problem(path, table.line(("relation",)), "relation", str(exc))
    seen: dict[str, int] = {}
    for index, column in enumerate(policy.columns):
        if column.name.lower() in seen:
            yield Problem(path, table.line(("schema", index, "name")), f"schema[{index}].name",
                          f"duplicate column {echo(column.name)} (first at schema[{seen[column.name.lower()]}])")
        seen.setdefault(column.name.lower(), index)
        yield from _purpose_problems(table, column, index, purposes)
        yield from _strategy_problems(table, column, index)
        if column.data_handling.retention_days and not policy.event_time:
            yield Problem(path, table.line(("schema", index, "data_handling", "retention_days")),
                          f"schema[{index}].data_handling.retention_days",
                          f"column retention on {echo(column.name)} needs the table's `event_time`")
    if policy.event_time and policy.column(policy.event_time) is None:
        yield Problem(path, table.line(("event_time",)), "event_time",
                      f"event_time {echo(policy.event_time)} is not a column of the schema")
    yield from _subject_problems(table, policies)
    event_column = policy.column(policy.event_time) if policy.event_time else None
    if event_column and event_column.type and event_column.type.family is not TypeFamily.TEMPORAL:
        yield Problem(path, table.line(("event_time",)), "event_time",
                      f"event_time {echo(policy.event_time)} must be a DATE or TIMESTAMP column")
    yield from _retention_problems(table, policies)


def by_relation(policies: Policies) -> dict[str, LoadedTable]:
    """Policy tables by their relation as written canonically (`ref('orders')`)."""
    found = {}
    for table in policies.table_list():
        try:
            found[str(table.relation)] = table
        except ValueError:
            continue
    return found


def _subject_problems(table: LoadedTable, policies: Policies) -> Iterator[Problem]:
    """A subject column of the schema, or a `via` that reaches a subject through policy tables."""
    policy, path = table.policy, table.path
    if policy.subject_column is not None:
        if policy.column(policy.subject_column) is None:
            yield Problem(path, table.line(("subject",)), "subject",
                          f"subject {echo(policy.subject_column)} is not a column of the schema")
        return
    via = policy.via
    if via is None:
        return
    if policy.column(via.via) is None:
        yield Problem(path, table.line(("subject", "via")), "subject.via",
                      f"via {echo(via.via)} is not a column of the schema")
    try:
        relation = str(parse_relation(via.relation))
    except ValueError as exc:
        yield Problem(path, table.line(("subject", "relation")), "subject.relation", str(exc))
        return
    tables = by_relation(policies)
    parent = tables.get(relation)
    if parent is None:
        known = ", ".join(sorted(tables)) or "none"
        yield Problem(path, table.line(("subject", "relation")), "subject.relation",
                      f"{echo(via.relation)} is not the relation of a policy table (policy relations: {known}); "
                      "write a policy for it with its own `subject`")
        return
    if parent.policy.column(via.key) is None:
        yield Problem(path, table.line(("subject", "key")), "subject.key",
                      f"key {echo(via.key)} is not a column of {parent.name}'s schema ({parent.path})")
    seen = [table.name]
    while parent is not None and parent.policy.via is not None:
        if parent.name in seen:
            yield Problem(path, table.line(("subject",)), "subject",
                          f"the subject chain loops: {' -> '.join([*seen, parent.name])}")
            return
        seen.append(parent.name)
        try:
            parent = tables.get(str(parse_relation(parent.policy.via.relation)))
        except ValueError:
            return
    if parent is not None and parent.policy.subject is None:
        yield Problem(path, table.line(("subject",)), "subject",
                      f"the subject chain {' -> '.join([*seen, parent.name])} ends at a table without a `subject`")


def _retention_problems(table: LoadedTable, policies: Policies) -> Iterator[Problem]:
    policy, path = table.policy, table.path
    if policy.retention_days and policy.retention:
        yield Problem(path, table.line(("retention",)), "retention",
                      "give `retention_days` or a named `retention` tier, not both")
    if policy.retention and policy.retention not in policies.project.retention_tiers:
        known = ", ".join(sorted(policies.project.retention_tiers)) or "none declared"
        yield Problem(path, table.line(("retention",)), "retention",
                      f"unknown retention tier {echo(policy.retention)} (tiers in policies/veil.yml: {known})")
    for key in ("retention_days", "retention"):
        if getattr(policy, key) and not policy.event_time:
            yield Problem(path, table.line((key,)), key, "retention needs `event_time`: the column rows age by")


def validate_policies(policies: Policies) -> list[Problem]:
    """Every cross-reference problem in the project, in file order."""
    problems = list(_project_problems(policies))
    for table in policies.table_list():
        problems += _table_problems(table, policies)
    return problems


"""`veil lint`: SELECT * and disallowed uses of PII, traced through column lineage.

Stages: `inputs` (files or a dbt manifest) -> `engine` (parse, purpose,
`lineage`, `rules/`, suppressions) -> `formatters` (human, json, sarif,
github, junit). `catalog` maps relation names to policy tables.
"""

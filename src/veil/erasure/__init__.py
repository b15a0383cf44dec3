"""Right to erasure (GDPR Art. 17): the registry is the source of truth.

`requests` reads the registry and what the audit trail already confirmed;
`systems` lists every place a subject's data lives (policy tables, dbt
tables and seeds, the consent log, published files, the token vault);
`run` erases all pending subjects at once, one statement per system, and
makes it physical; `report` turns the audit trail into proof.
"""

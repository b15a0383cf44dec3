"""veil: privacy policy-as-code for dbt.

Policies (one YAML schema contract per table) compile into masked audience
models, consent filters, retention predicates and erasure exclusions for dbt.
"""

__version__ = "0.1.0"

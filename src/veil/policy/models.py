"""The policy language as typed models (pydantic v2, `extra="forbid"`).

These models check shape: known keys, value types, closed vocabularies.
Cross-references (a purpose that exists, a strategy that fits its column)
are checked afterwards by `veil.policy.validate`, which knows every file.

>>> ColumnPolicy.model_validate({"name": "email", "type": "varchar"}).type
<ColumnType.STRING: 'STRING'>
>>> ColumnPolicy.model_validate({"name": "note"}).classification
<Classification.DIRECT_PII: 'DIRECT_PII'>
"""

from __future__ import annotations

import enum
from typing import Annotated, Any, Literal, Union

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    PositiveInt,
    Tag,
    field_validator,
)

from veil.policy.names import Identifier
from veil.policy.purposes import lineage
from veil.types import ColumnType, parse_column_type


class Classification(str, enum.Enum):
    """How identifying a column is (the seed's PII spectrum)."""

    DIRECT_PII = "DIRECT_PII"
    QUASI_PII = "QUASI_PII"
    SENSITIVE_PII = "SENSITIVE_PII"
    PSEUDONYMOUS = "PSEUDONYMOUS"
    NON_PII = "NON_PII"


class ConsentMode(str, enum.Enum):
    """Which subjects a purpose may include, given their consent decisions."""

    OPT_IN = "opt_in"
    OPT_OUT = "opt_out"
    NONE = "none"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class PurposeSpec(_Strict):
    """A purpose of processing; children inherit the consent mode they omit."""

    consent: ConsentMode | None = Field(None, description="opt_in, opt_out or none")
    description: str | None = None


class AudienceSpec(_Strict):
    """A group of readers served by one purpose (one model per table)."""

    purpose: str = Field(description="the purpose every model of this audience serves")
    description: str | None = None
    may_reveal: list[str] = Field(default_factory=list,
                                  description="<table>.<column> this audience may see unmasked and reveal")
    schema_: Identifier | None = Field(None, alias="schema",
                                       description="dbt custom schema of this audience's models (opt-in; "
                                                   "dbt names it <target schema>_<schema>)")
    grants: list[Identifier] = Field(default_factory=list,
                                     description="database roles granted SELECT on this audience's models")


class ConsentSpec(_Strict):
    """Where consent decisions live: one row per decision."""

    relation: str
    subject: Identifier
    purpose: Identifier = "purpose"
    granted: Identifier = "granted"
    recorded_at: Identifier = "recorded_at"


class LegalHolds(_Strict):
    """Subjects or tables that must not be erased for now, each with its reason."""

    subjects: dict[str, str] = Field(default_factory=dict, description="subject id -> reason")
    tables: dict[str, str] = Field(default_factory=dict, description="policy table -> reason")


class ErasureSpec(_Strict):
    """The deletion registry: subjects who asked to be forgotten."""

    relation: str
    subject: Identifier
    requested_at: Identifier = "requested_at"
    request_id: Identifier | None = Field(None, description="column identifying a request; default: subject + time")
    sla_days: PositiveInt = Field(30, description="days a request may stay open (GDPR: one month)")
    legal_holds: LegalHolds = Field(default_factory=LegalHolds)


class ProjectPolicy(_Strict):
    """`policies/veil.yml`: purposes, audiences, consent, erasure, tiers."""

    version: Literal[1]
    purposes: dict[str, PurposeSpec | None] = Field(default_factory=dict)
    audiences: dict[str, AudienceSpec] = Field(default_factory=dict)
    consent: ConsentSpec | None = None
    erasure: ErasureSpec | None = None
    retention_tiers: dict[str, PositiveInt] = Field(default_factory=dict)

    def purpose(self, name: str) -> PurposeSpec:
        return self.purposes.get(name) or PurposeSpec()

    def consent_mode(self, purpose: str) -> ConsentMode:
        """The purpose's own consent mode, else its nearest parent's, else opt_in.

        Privacy by default: a purpose nobody gave a mode needs an opt-in.

        >>> project = ProjectPolicy(version=1, purposes={"marketing": {"consent": "opt_in"}, "marketing.email": {}})
        >>> project.consent_mode("marketing.email").value, project.consent_mode("other").value
        ('opt_in', 'opt_in')
        """
        for name in lineage(purpose):
            mode = self.purpose(name).consent
            if mode is not None:
                return mode
        return ConsentMode.OPT_IN


class MaskingRule(_Strict):
    """A strategy and its options (`hash`, or `{strategy: last4}`)."""

    strategy: str
    options: dict[str, Any] = Field(default_factory=dict)


class DataHandling(_Strict):
    """How a column may be handled: purposes, retention, masking."""

    collection_purpose: str | None = None
    allowed_uses: list[str] = Field(default_factory=list)
    not_allowed: list[str] = Field(default_factory=list)
    retention_days: PositiveInt | None = None
    masking: dict[str, MaskingRule] = Field(default_factory=dict)


class ColumnPolicy(_Strict):
    """One column of a schema contract."""

    name: Identifier
    type: ColumnType | None = None
    pii_classification: Classification | None = None
    description: str | None = None
    data_handling: DataHandling = Field(default_factory=DataHandling)

    @field_validator("type", mode="before")
    @classmethod
    def _known_type(cls, value: Any) -> Any:
        return parse_column_type(value) if isinstance(value, str) else value

    @property
    def classification(self) -> Classification:
        """Privacy by default: an unclassified column counts as DIRECT_PII."""
        return self.pii_classification or Classification.DIRECT_PII


class ViaSubject(_Strict):
    """A table that reaches its data subject through a foreign key.

    `via` is this table's column, `relation` the policy table it references and
    `key` that table's column `via` holds; the referenced table has a subject of
    its own (a column, or another `via`: multi-hop).
    """

    via: Annotated[Identifier, Field(description="this table's foreign key column")]
    relation: str = Field(description="the referenced policy table's relation, e.g. ref('orders')")
    key: Annotated[Identifier, Field(description="the referenced table's column `via` points to")]


def _subject_kind(value: Any) -> str:
    return "tagged-via" if isinstance(value, (dict, ViaSubject)) else "tagged-column"


# A column name, or a `via` mapping: errors come from the one shape that was written
# (load.py drops the `tagged-` parts of their locations).
Subject = Annotated[Union[Annotated[Identifier, Tag("tagged-column")], Annotated[ViaSubject, Tag("tagged-via")]],
                    Discriminator(_subject_kind)]


class TablePolicy(_Strict):
    """`policies/tables/<table>.yml`: the schema contract of one table."""

    table: Identifier
    relation: str | None = Field(None, description="source('s', 't') or ref('m'); default ref('<table>')")
    description: str | None = None
    subject: Subject | None = Field(
        None, description="the data subject's key column, or {via, relation, key} through a foreign key")
    event_time: Identifier | None = None
    retention_days: PositiveInt | None = None
    retention: str | None = None
    erasure: Literal["delete", "anonymize"] = Field(
        "delete", description="what `veil erase` does to a subject's rows: delete them, or keep them anonymized")
    columns: list[ColumnPolicy] = Field(alias="schema", min_length=1)

    @property
    def subject_column(self) -> str | None:
        """The column holding the subject id itself (None for a `via` table).

        >>> TablePolicy.model_validate({"table": "t", "subject": "id", "schema": [{"name": "id"}]}).subject_column
        'id'
        """
        return self.subject if isinstance(self.subject, str) else None

    @property
    def via(self) -> ViaSubject | None:
        return self.subject if isinstance(self.subject, ViaSubject) else None

    @property
    def identity_column(self) -> str | None:
        """The column that identifies the subject in this table: the subject or the `via` column."""
        return self.subject_column or (self.via.via if self.via else None)

    def column(self, name: str) -> ColumnPolicy | None:
        """The column called `name`, compared case-insensitively like DuckDB."""
        return next((c for c in self.columns if c.name.lower() == name.lower()), None)

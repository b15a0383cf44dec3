"""Relations as policies name them: `source('raw', 'users')` or `ref('stg_users')`.

>>> r = parse_relation("source('raw', 'users')")
>>> r.jinja, r.name
("{{ source('raw', 'users') }}", 'users')
>>> parse_relation("ref('stg_users')").identifier
'stg_users'
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from veil.policy.limits import echo

_ARG = r"\s*(['\"])([A-Za-z_][\w$-]*)\1\s*"
_PATTERNS = {
    "source": re.compile(rf"^\s*source\({_ARG},{_ARG}\)\s*$"),
    "ref": re.compile(rf"^\s*ref\({_ARG}(?:,{_ARG})?\)\s*$"),
}


@dataclass(frozen=True)
class Relation:
    """A dbt relation: kind is `source` or `ref`, args as written."""

    kind: str
    args: tuple[str, ...]

    @property
    def jinja(self) -> str:
        """The dbt call that resolves it inside a model."""
        quoted = ", ".join(f"'{arg}'" for arg in self.args)
        return f"{{{{ {self.kind}({quoted}) }}}}"

    @property
    def name(self) -> str:
        """The table or model name (last argument)."""
        return self.args[-1]

    @property
    def identifier(self) -> str:
        """`schema.table` for a source, the model name for a ref."""
        return ".".join(self.args) if self.kind == "source" else self.name

    def __str__(self) -> str:
        quoted = ", ".join(f"'{arg}'" for arg in self.args)
        return f"{self.kind}({quoted})"


def parse_relation(text: str) -> Relation:
    """Parse a relation; raise ValueError with a hint when malformed."""
    if not isinstance(text, str):
        raise ValueError(f"expected a string like \"source('raw', 'users')\", got {echo(text)}")
    for kind, pattern in _PATTERNS.items():
        match = pattern.match(text)
        if match:
            args = tuple(g for g in match.groups()[1::2] if g)
            return Relation(kind, args)
    raise ValueError(
        f"malformed relation {echo(text)}: expected \"source('<source>', '<table>')\" or \"ref('<model>')\""
    )

"""dbt Jinja in generated files: the shared pieces, and the one way user text gets in.

dbt renders every generated file as Jinja: the whole of a model or macro
`.sql` (comments included), and in a properties `.yml` the descriptions,
`meta`, names and test arguments. Names reach those files only once
`veil.policy.names` has checked them; free text (a description, a policy's
file name) reaches them only through the functions below, which write it so
Jinja renders it back to itself and runs nothing:

- `literal(text)`: when dbt would render the text (it holds `{{`, `{%`,
  `{#`, `}}`, `%}` or `#}`), each `{` becomes `{{ '{' }}`, an expression
  printing it, so no tag, expression or comment can start; a carriage return
  and a final newline, which Jinja would rewrite, are printed the same way.
  `{% raw %}` is not used: a text could end the raw block itself;
- `literal_tree(value)`: `literal` on every string of a yml mapping or list;
- `sql_comment(text)`: one printable line (line breaks and control
  characters escaped) with every `{` printed by Jinja, for a `-- ...` comment;
- `properties_yml(doc)`: the yml text of a properties document, each string
  read back as written (PyYAML alone folds a NEL, U+0085, into spaces).

>>> print(literal("{{ env_var('VEIL_KEY') }} {% endraw %}"))
{{ '{' }}{{ '{' }} env_var('VEIL_KEY') }} {{ '{' }}% endraw %}
>>> literal("a {curly} text, unchanged")
'a {curly} text, unchanged'
>>> print(sql_comment("policies/tables/a\\nselect 1;{{.yml"))
policies/tables/a\\nselect 1;{{ '{' }}{{ '{' }}.yml
>>> print(switch("purpose", {"a": "TRUE"}, "unknown purpose"))
{%- if purpose == 'a' -%}
TRUE
{%- else -%}
{{ exceptions.raise_compiler_error("unknown purpose" ~ ": '" ~ purpose ~ "'") }}
{%- endif -%}
"""

from __future__ import annotations

import re
from typing import Any

import yaml

from veil.policy.limits import printable

_RENDERED = re.compile(r"\{[{%#]|[#}%]\}")   # what makes dbt render a string (dbt.clients.jinja.get_rendered)
_SPECIAL = re.compile(r"[{\r]|\n\Z")
_PRINTED = {"{": "{{ '{' }}", "\r": "{{ '\\r' }}", "\n": "{{ '\\n' }}"}


def literal(text: str) -> str:
    """Jinja source that renders to exactly `text` (a text dbt would not render is unchanged)."""
    if not _RENDERED.search(text):
        return text
    return _SPECIAL.sub(lambda match: _PRINTED[match.group()], text)


def literal_tree(value: Any) -> Any:
    """`value` with `literal` applied to every string in it, keys included."""
    if isinstance(value, str):
        return literal(value)
    if isinstance(value, dict):
        return {literal_tree(k): literal_tree(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [literal_tree(v) for v in value]
    return value


def sql_comment(text: str) -> str:
    """`text` safe after `--` in a generated SQL file: one line, every `{` printed by Jinja."""
    return printable(text).replace("{", _PRINTED["{"])


class _Dumper(yaml.SafeDumper):
    """SafeDumper that double-quotes (so escapes) a string holding a NEL."""


def _represent_str(dumper: yaml.SafeDumper, data: str) -> yaml.ScalarNode:
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style='"' if "\x85" in data else None)


_Dumper.add_representer(str, _represent_str)


def properties_yml(doc: dict[str, Any]) -> str:
    """A dbt properties document as yml text (its strings already `literal` where dbt renders them).

    >>> yaml.safe_load(properties_yml({"description": "a\x85b"}))["description"] == "a\x85b"
    True
    """
    return yaml.dump(doc, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100)


def switch(variable: str, cases: dict[str, str], error: str) -> str:
    """An if-chain over string cases; any other value stops the build with `error`.

    Case values and `error` are names and fixed text, never user text.
    """
    lines = []
    for index, (value, body) in enumerate(sorted(cases.items())):
        keyword = "if" if index == 0 else "elif"
        lines += [f"{{%- {keyword} {variable} == '{value}' -%}}", body]
    raise_error = f"{{{{ exceptions.raise_compiler_error(\"{error}\" ~ \": '\" ~ {variable} ~ \"'\") }}}}"
    if lines:
        lines += ["{%- else -%}", raise_error, "{%- endif -%}"]
    else:
        lines.append(raise_error)
    return "\n".join(lines)

"""Small pieces of dbt Jinja that generated macros share.

>>> print(switch("purpose", {"a": "TRUE"}, "unknown purpose"))
{%- if purpose == 'a' -%}
TRUE
{%- else -%}
{{ exceptions.raise_compiler_error("unknown purpose" ~ ": '" ~ purpose ~ "'") }}
{%- endif -%}
"""

from __future__ import annotations


def switch(variable: str, cases: dict[str, str], error: str) -> str:
    """An if-chain over string cases; any other value stops the build with `error`."""
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

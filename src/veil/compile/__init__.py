"""Policies -> dbt models, macros and properties: `load -> validate -> plan -> render -> write`.

The stages live in their own modules (`plan`, `render_*`, `write`);
`compile_project` and `render_project` (in `project`) run them in order.
They are imported lazily, so a caller that needs only the plan (the linter)
does not pay for the renderers.

>>> import inspect; from veil.compile import compile_project
>>> list(inspect.signature(compile_project).parameters)
['project_dir', 'check', 'target']
"""

from __future__ import annotations

from typing import Any

__all__ = ["compile_project", "render_project"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from veil.compile import project

        return getattr(project, name)
    raise AttributeError(name)

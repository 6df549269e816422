"""Reading a year: the one year check of the project (referential, territories, schedule,
parameters, engine). Re-exported as ``referential.coerce_year``; a module of its own so that
``territories`` (imported by ``referential``) can use it without an import circle."""

from __future__ import annotations

from typing import Any


def coerce_year(value: Any) -> int:
    """``value`` as an int year (2021, 2021.0, "2021", " 2021.0"); ValueError for anything else
    (True, 2021.5, "deux mille", None). The one year check of the project: callers add the French
    message naming the valid years."""
    if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
        raise ValueError(value)
    try:
        return int(value.strip().removesuffix(".0") if isinstance(value, str) else value)
    except (TypeError, ValueError):
        raise ValueError(value) from None

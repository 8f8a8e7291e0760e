"""Checking a format's options against its pydantic model: one message naming each option."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from dropstream.errors import ConfigurationError

M = TypeVar("M", bound=BaseModel)


def validate_options(model: type[M], options: Mapping[str, Any], fmt: str, missing: str = "") -> M:
    """``model`` from ``options``; any problem is a ConfigurationError naming the option."""
    try:
        return model.model_validate(dict(options))
    except ValidationError as exc:
        problems = []
        for error in exc.errors(include_url=False):
            where = ".".join(str(part) for part in error["loc"]) or "options"
            message = error["msg"].removeprefix("Value error, ")
            if error["type"] == "extra_forbidden":
                message = f"unknown option (known: {', '.join(model.model_fields)})"
            elif error["type"] == "missing" and missing:
                message = missing
            problems.append(f"{where}: {message}")
        raise ConfigurationError(
            f"{fmt} format options are invalid: {'; '.join(problems)}"
        ) from None

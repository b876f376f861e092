"""`Unset[T]`: an optional setting whose blank value means "not set".

An empty environment variable (`DOPPEL_IMG2IMG_SAMPLER=` in a copied .env) would otherwise
be the empty string, or `Path(".")`, the current directory, for a path.
"""

from typing import Annotated, TypeVar

from pydantic import BeforeValidator

T = TypeVar("T")


def blank_is_none(value: object) -> object:
    return None if isinstance(value, str) and not value.strip() else value


Unset = Annotated[T | None, BeforeValidator(blank_is_none)]

"""Settings with nested sections, read from flat environment variables.

A settings class (pydantic-settings) may nest a library's own config (the Unsplash client's,
a generator's) as one field; the environment still names each of its fields flat:
PREFIX + the section's prefix + FIELD (DOPPEL_UNSPLASH_PER_PAGE -> `unsplash.per_page`).
`FlatNames` is that mapping for one settings class: it lists every variable (for the docs,
the error messages and the checks), turns a validation error's location back into the
variable to fix, nests flat keywords, and is the pydantic-settings source that reads the
nested fields from the environment or a .env file. It knows nothing of Doppel's settings.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import AliasChoices, BaseModel
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource


@dataclass(frozen=True)
class Nested:
    """How one nested config is named in the environment: PREFIX + `prefix` + FIELD.
    `only` maps the fields that are settings to their suffix, for configs that also hold
    calibrated constants; None: every field but the excluded secrets."""

    prefix: str
    only: Mapping[str, str] | None = None


@dataclass(frozen=True)
class Variable:
    """One setting as the environment names it; `owner` is the top-level field (its
    json_schema_extra carries the docs' section), `field` the declaration itself."""

    name: str
    path: tuple[str, ...]
    owner: FieldInfo
    field: FieldInfo
    aliases: tuple[str, ...] = ()  # conventional names also read, after `name`


@dataclass(frozen=True)
class FlatNames:
    """The flat variable names of `settings` (a pydantic-settings class)."""

    settings: type[BaseSettings]
    prefix: str
    nested: Mapping[str, Nested]
    also_read: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def variables(self) -> Iterator[Variable]:
        """Every setting in declaration order."""
        for name, owner in self.settings.model_fields.items():
            nested = self.nested.get(name)
            if nested is None:
                yield self._variable(_top_level_name(self.prefix, name, owner), (name,), owner)
                continue
            model: type[BaseModel] = owner.annotation  # type: ignore[assignment]
            for field_name, declared in model.model_fields.items():
                if nested.only is not None:
                    suffix = nested.only.get(field_name)
                else:  # secrets are `exclude`d: top-level, under their own names
                    suffix = None if declared.exclude else field_name.upper()
                if suffix is not None:
                    full = self.prefix + nested.prefix + suffix
                    yield self._variable(full, (name, field_name), owner, declared)

    def _variable(
        self, name: str, path: tuple[str, ...], owner: FieldInfo, declared: FieldInfo | None = None
    ) -> Variable:
        return Variable(name, path, owner, declared or owner, self.also_read.get(name, ()))

    def variable_name(self, loc: tuple[int | str, ...]) -> str:
        """The variable behind a validation error's location (the longest matching path)."""
        paths = {v.path: v.name for v in self.variables()}
        parts = tuple(str(p) for p in loc)
        for end in range(len(parts), 0, -1):
            if parts[:end] in paths:
                return paths[parts[:end]]
        if loc and str(loc[0]) in self.nested:
            return f"{self.prefix}{self.nested[str(loc[0])].prefix}*"
        return self.prefix + "_".join(str(p) for p in loc).upper()

    def nest(self, flat: Mapping[str, Any]) -> dict[str, Any]:
        """Keyword settings by their flat names (`unsplash_per_page=5`, as in the environment
        without the prefix) into the nested shape; nested keys and other names pass through."""
        by_flat = {
            v.name.removeprefix(self.prefix).lower(): v.path
            for v in self.variables()
            if len(v.path) == 2
        }
        out: dict[str, Any] = {}
        for key, value in flat.items():
            path = by_flat.get(key)
            if path is None:
                out[key] = value
            else:
                group = out.setdefault(path[0], {})
                if isinstance(group, dict):
                    group[path[1]] = value
        return out

    def source(
        self, settings_cls: type[BaseSettings], found: Mapping[str, str | None]
    ) -> PydanticBaseSettingsSource:
        """A pydantic-settings source of the nested fields from `found`, the variables a
        source of pydantic-settings read (lower-cased names, as it reads them)."""
        return _NestedVariables(settings_cls, self, found)


def _top_level_name(prefix: str, name: str, declared: FieldInfo) -> str:
    alias = declared.validation_alias
    if isinstance(alias, AliasChoices) and isinstance(alias.choices[0], str):
        return alias.choices[0]
    return prefix + name.upper()


class _NestedVariables(PydanticBaseSettingsSource):
    def __init__(
        self, settings_cls: type[BaseSettings], names: FlatNames, found: Mapping[str, str | None]
    ):
        super().__init__(settings_cls)
        self._names = names
        self._found = found

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False  # unused: __call__ reads the variables itself

    def __call__(self) -> dict[str, Any]:
        out: dict[str, dict[str, Any]] = {}
        for var in self._names.variables():
            if len(var.path) != 2:
                continue
            for name in (var.name, *var.aliases):
                value = self._found.get(name.lower())
                if value is not None:
                    out.setdefault(var.path[0], {})[var.path[1]] = _decoded(var.field, value)
                    break
        return out


def _decoded(declared: FieldInfo, value: str) -> Any:
    # Mappings (a price table) come as JSON; everything else as the string it is.
    origin = getattr(declared.annotation, "__origin__", declared.annotation)
    if origin is dict:
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value  # validation says what is wrong with it
    return value

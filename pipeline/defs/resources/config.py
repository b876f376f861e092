"""A library config held whole by a resource: one `config` field, its JSON-able dump.

The library's pydantic model (UnsplashConfig, OpenAIImagesConfig, ...) is the one
declaration of its fields, defaults and checks; a resource keeps its dump as plain config
(it shows in the launchpad and run config) and validates it back into the library type in
`open()`. Secrets are `exclude`d from the dump: the resource takes them as separate fields,
given as `dg.EnvVar` by name.
"""

from typing import Any, TypeVar

from pydantic import BaseModel, Field

C = TypeVar("C", bound=BaseModel)


def dumped(config: BaseModel) -> dict[str, Any]:
    # Dagster's config maps hold no None: unset fields are left out, which only works
    # because every such field defaults to None; the round trip proves it.
    dump = config.model_dump(mode="json", exclude_none=True)
    if type(config).model_validate(dump).model_dump() != config.model_dump():
        raise ValueError(f"{type(config).__name__} does not survive Dagster config: {dump}")
    return dump


def config_field(model: type[BaseModel]) -> Any:
    return Field(
        default_factory=lambda: dumped(model()),
        description=f"{model.__name__}'s fields ({model.__module__}); unset ones keep their "
        "defaults.",
    )


def config_of(model: type[C], config: dict[str, Any], **secrets: Any) -> C:
    """The library config back from the resource's dump, checked again, secrets added."""
    return model.model_validate({**config, **secrets})

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pipeline.lib.db.database import database_url_for
from pipeline.lib.settings import SettingsError, load_settings

SAMPLES = Path(__file__).parents[2] / "pipeline" / "lib" / "sources" / "sample_photos"


def test_embedded_default_needs_nothing(tmp_path: Path) -> None:
    settings = load_settings(_env_file=None, data_dir=tmp_path)
    assert (settings.source, settings.generator, settings.store) == (
        "samples", "patch-remix", "local",
    )  # fmt: skip
    assert settings.resolved_database_url == f"sqlite:///{tmp_path}/doppel.db"
    assert "source=samples generator=patch-remix" in settings.summary()


@pytest.mark.parametrize(
    ("overrides", "needle"),
    [
        ({"source": "unsplash"}, "UNSPLASH_ACCESS_KEY"),
        ({"generator": "openai"}, "OPENAI_API_KEY"),
        ({"store": "s3"}, "DOPPEL_S3_BUCKET"),
        ({"source": "folder"}, "DOPPEL_FOLDER"),
        ({"photos_per_day": 0}, "DOPPEL_PHOTOS_PER_DAY"),
    ],
)
def test_real_backends_without_what_they_need_are_clear_errors(
    overrides: dict[str, object], needle: str
) -> None:
    with pytest.raises(SettingsError, match=needle):
        load_settings(_env_file=None, **overrides)


def test_keys_come_from_the_environment_and_never_print(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("UNSPLASH_ACCESS_KEY", "secret-unsplash-key")
    monkeypatch.setenv("DOPPEL_SOURCE", "unsplash")
    settings = load_settings(_env_file=None)
    assert settings.source == "unsplash"
    assert "secret-unsplash-key" not in settings.summary()
    assert "secret-unsplash-key" not in repr(settings)


def test_blank_key_is_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "  ")
    with pytest.raises(SettingsError, match="OPENAI_API_KEY"):
        load_settings(_env_file=None, generator="openai")


def test_dotenv_file_is_read(tmp_path: Path) -> None:
    env = tmp_path / ".env"
    env.write_text("DOPPEL_PHOTOS_PER_DAY=7\n")
    assert load_settings(_env_file=env).photos_per_day == 7


def test_postgres_urls_use_psycopg2() -> None:
    assert database_url_for("postgresql://u@h/db") == "postgresql+psycopg2://u@h/db"
    assert database_url_for("postgres://u@h/db") == "postgresql+psycopg2://u@h/db"
    assert database_url_for("sqlite:///x.db") == "sqlite:///x.db"


def test_blank_optional_settings_are_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    # A copied .env leaves `NAME=` lines: not "", and never Path("."), the current folder.
    for name in ("DOPPEL_FOLDER", "DOPPEL_STYLE_TRANSFER_FOLDER", "DOPPEL_IMG2IMG_SAMPLER",
                 "DOPPEL_IMG2IMG_CHECKPOINT", "DOPPEL_OPENAI_INPUT_FIDELITY",
                 "DOPPEL_OPENAI_BASE_URL"):  # fmt: skip
        monkeypatch.setenv(name, "  ")
    s = load_settings(_env_file=None)
    assert s.folder is None and s.style_transfer.style_folder is None
    assert (s.img2img.sampler, s.img2img.checkpoint) == (None, None)
    assert (s.openai.input_fidelity, s.openai.base_url) == (None, None)


def test_style_transfer_settings_reach_its_generator(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pipeline.defs.resources import build_resources
    from pipeline.defs.resources.generators import StyleTransferResource

    (tmp_path / "wave.png").write_bytes((SAMPLES / "coffee.jpg").read_bytes())
    monkeypatch.setenv("DOPPEL_GENERATOR", "style-transfer")
    monkeypatch.setenv("DOPPEL_STYLE_TRANSFER_FOLDER", str(tmp_path))
    monkeypatch.setenv("DOPPEL_STYLE_TRANSFER_STRENGTH", "0.6")
    monkeypatch.setenv("DOPPEL_STYLE_TRANSFER_STYLE", "")  # blank: not set
    monkeypatch.setenv("DOPPEL_OUTPUT_SIZE", "512")
    monkeypatch.setenv("DOPPEL_GENERATION_CONCURRENCY", "2")
    settings = load_settings(_env_file=None, data_dir=tmp_path)
    resource = build_resources(settings)["image_generator"]
    assert isinstance(resource, StyleTransferResource)
    generator = resource.open()
    s = generator.settings  # type: ignore[attr-defined]
    assert (s.output_size, s.strength, s.style, s.style_folder) == (512, 0.6, None, tmp_path)
    cores = len(os.sched_getaffinity(0))
    assert s.threads == max(1, cores // 2)  # onnxruntime held to one worker's share


@pytest.mark.parametrize(
    ("env", "needle"),
    [
        ({"DOPPEL_STYLE_TRANSFER_FOLDER": "/no/such/folder"}, "DOPPEL_STYLE_TRANSFER_FOLDER"),
        ({"DOPPEL_STYLE_TRANSFER_STYLE": "26"}, "DOPPEL_STYLE_TRANSFER_STYLE"),
        ({"DOPPEL_STYLE_TRANSFER_STRENGTH": "0"}, "DOPPEL_STYLE_TRANSFER_STRENGTH"),
        ({"DOPPEL_STYLE_TRANSFER_STYLE": "3", "DOPPEL_STYLE_TRANSFER_FOLDER": "."}, "not both"),
    ],
)
def test_bad_style_transfer_settings_say_what_to_fix(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], needle: str
) -> None:
    monkeypatch.setenv("DOPPEL_GENERATOR", "style-transfer")
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError, match=needle):
        load_settings(_env_file=None)


# Names deployments and docs use; nesting the configs must not rename any of them.
LEGACY_NAMES = {
    "DOPPEL_PHOTOS_PER_DAY": ("photos_per_day", "7", 7),
    "DOPPEL_UNSPLASH_PER_PAGE": ("unsplash.per_page", "12", 12),
    "DOPPEL_UNSPLASH_IMAGE_HOSTS": ("unsplash.image_hosts", "a.test, b.test", ("a.test", "b.test")),
    "DOPPEL_OPENAI_IMAGE_MODEL": (
        "openai.image_model",
        "gpt-image-2.5-flare",
        "gpt-image-2.5-flare",
    ),
    "DOPPEL_IMG2IMG_NEGATIVE_PROMPT": ("img2img.negative_prompt", "blur", "blur"),
    "DOPPEL_WORK_SIZE": ("patch_remix.work_size", "128", 128),
    "DOPPEL_OUTPUT_SIZE": ("style_transfer.output_size", "512", 512),
    "DOPPEL_STYLE_TRANSFER_STRENGTH": ("style_transfer.strength", "0.5", 0.5),
    "DOPPEL_STYLE_TRANSFER_STYLE": ("style_transfer.style", "4", 4),
    "DOPPEL_MAX_PAID_ATTEMPTS": ("max_paid_attempts", "3", 3),
}


def _at(settings: object, path: str) -> object:
    for part in path.split("."):
        settings = getattr(settings, part)
    return settings


@pytest.mark.parametrize("where", ["environment", ".env"])
def test_every_variable_keeps_its_name_nested_or_not(
    where: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = tmp_path / ".env"
    env.write_text("".join(f"{k}={v}\n" for k, (_, v, _) in LEGACY_NAMES.items()))
    if where == "environment":
        for name, (_, value, _) in LEGACY_NAMES.items():
            monkeypatch.setenv(name, value)
    settings = load_settings(_env_file=env if where == ".env" else None)
    for name, (path, _, expected) in LEGACY_NAMES.items():
        assert _at(settings, path) == expected, name
    assert settings.patch_remix.output_size == 512  # one DOPPEL_OUTPUT_SIZE for both


def test_the_environment_beats_dotenv_and_doppel_names_beat_conventional_ones(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = tmp_path / ".env"
    env.write_text("DOPPEL_UNSPLASH_PER_PAGE=5\nDOPPEL_OPENAI_BASE_URL=https://dotenv/v1\n")
    monkeypatch.setenv("DOPPEL_UNSPLASH_PER_PAGE", "9")
    monkeypatch.setenv("OPENAI_BASE_URL", "https://sdk/v1")
    settings = load_settings(_env_file=env)
    assert settings.unsplash.per_page == 9
    assert settings.openai.base_url == "https://sdk/v1"  # environment over .env, as before
    monkeypatch.setenv("DOPPEL_OPENAI_BASE_URL", "https://doppel/v1")
    assert load_settings(_env_file=env).openai.base_url == "https://doppel/v1"
    # Keyword overrides use the same flat names, and win.
    assert load_settings(_env_file=env, unsplash_per_page=3).unsplash.per_page == 3


def test_a_nested_setting_out_of_range_names_its_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOPPEL_UNSPLASH_PER_PAGE", "31")
    with pytest.raises(SettingsError, match="DOPPEL_UNSPLASH_PER_PAGE"):
        load_settings(_env_file=None)
    monkeypatch.delenv("DOPPEL_UNSPLASH_PER_PAGE")
    monkeypatch.setenv("DOPPEL_OPENAI_PRICES", '{"m": {"per_image_usd": "x"}}')
    with pytest.raises(SettingsError, match="DOPPEL_OPENAI_PRICES"):
        load_settings(_env_file=None)


def test_the_library_configs_import_no_settings() -> None:
    # The settings sit on top of the configs; nothing below imports them back.
    lib = Path(__file__).parents[2] / "pipeline" / "lib"
    for folder in ("sources", "generators", "db", "measures", "core"):
        for path in (lib / folder).rglob("*.py"):
            assert "pipeline.lib.settings" not in path.read_text().replace(
                "pipeline/lib/settings.py", ""
            ), path


def test_several_generators_from_the_environment_a_dotenv_or_keywords(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    assert load_settings(_env_file=None).generator_names == ("patch-remix",)  # one, as before
    monkeypatch.setenv("DOPPEL_GENERATOR", "style-transfer")
    assert load_settings(_env_file=None).generator_names == ("style-transfer",)
    monkeypatch.setenv("DOPPEL_GENERATORS", " patch-remix, style-transfer ,")
    # Both set: DOPPEL_GENERATOR leads (the day cards show its look-alikes).
    settings = load_settings(_env_file=None)
    assert settings.generator_names == ("style-transfer", "patch-remix")
    assert "generator=style-transfer,patch-remix " in settings.summary()
    monkeypatch.delenv("DOPPEL_GENERATOR")
    assert load_settings(_env_file=None).generator_names == ("patch-remix", "style-transfer")
    monkeypatch.delenv("DOPPEL_GENERATORS")
    env = tmp_path / ".env"
    env.write_text("DOPPEL_GENERATORS=style-transfer,patch-remix\n")
    assert load_settings(_env_file=env).generator_names == ("style-transfer", "patch-remix")
    keywords = load_settings(_env_file=None, generators="patch-remix,img2img")
    assert keywords.generator_names == ("patch-remix", "img2img")


@pytest.mark.parametrize(
    ("values", "said"),
    [
        ({"generators": "patch-remix,patch-remix"}, "names patch-remix more than once"),
        ({"generators": "patch-remix,dall-e"}, "DOPPEL_GENERATORS"),
        ({"generators": "patch-remix", "generator": "img2img"}, "not among DOPPEL_GENERATORS"),
        ({"generators": "patch-remix,openai"}, "DOPPEL_GENERATORS with openai needs OPENAI_API"),
    ],
)
def test_generators_that_cannot_work_say_what_to_set(values: dict[str, str], said: str) -> None:
    with pytest.raises(SettingsError, match=said):
        load_settings(_env_file=None, **values)

"""Settings → resources for the remote generators, and an img2img day through Dagster."""

from __future__ import annotations

import json
from pathlib import Path

import dagster as dg
import pytest
from PIL import Image
from sqlalchemy import select

from pipeline.defs.assets import daily_assets
from pipeline.defs.resources import build_resources
from pipeline.defs.resources.config import dumped
from pipeline.defs.resources.database import DatabaseResource
from pipeline.defs.resources.generators import Img2ImgResource, OpenAIImagesResource
from pipeline.lib.db import BilledRequest, Database, LookAlike
from pipeline.lib.settings import SettingsError, load_settings
from pipeline_tests.conftest import migrated
from pipeline_tests.fixtures.assets import TEST_PARTITIONS
from testbed.img2img_server import Img2ImgImitation


def test_openai_settings_become_a_resource_that_holds_the_key_by_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-resource-test-secret")
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    settings = load_settings(
        _env_file=None,
        data_dir=tmp_path,
        generator="openai",
        openai_strategy="describe",
        openai_vision_model="gpt-5-mini",
    )
    resource = build_resources(settings)["image_generator"]
    assert isinstance(resource, OpenAIImagesResource)
    assert resource.concurrency == 4  # the remote default
    assert resource.config["base_url"] == "http://127.0.0.1:9/v1"
    assert resource.config["strategy"] == "describe"
    # The key travels by name; Dagster resolves it inside the run.
    assert isinstance(resource.api_key, dg.EnvVar) and resource.api_key == "OPENAI_API_KEY"

    explicit = load_settings(
        _env_file=None, data_dir=tmp_path, generator="openai", generation_concurrency=3
    )
    assert build_resources(explicit)["image_generator"].concurrency == 3
    patch_remix = load_settings(_env_file=None, data_dir=tmp_path)
    assert build_resources(patch_remix)["image_generator"].concurrency == 2


@pytest.mark.parametrize(
    ("overrides", "needle"),
    [
        ({"openai_size": "big"}, "DOPPEL_OPENAI_SIZE"),
        ({"openai_generate_prompt": "no placeholder"}, "{description}"),
        ({"img2img_auth": "no-colon"}, "DOPPEL_IMG2IMG_AUTH"),
        ({"openai_strategy": "variations"}, "DOPPEL_OPENAI_STRATEGY"),
    ],
)
def test_unusable_remote_settings_are_clear_errors(overrides: dict[str, str], needle: str) -> None:
    with pytest.raises(SettingsError, match=needle.replace("{", r"\{").replace("}", r"\}")):
        load_settings(_env_file=None, **overrides)


def test_a_model_without_a_price_is_refused_at_start_unless_given_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-resource-test-secret")
    base = {"_env_file": None, "data_dir": tmp_path, "generator": "openai"}
    with pytest.raises(SettingsError, match=r"DOPPEL_OPENAI_IMAGE_MODEL=gpt-image-9 has no price"):
        load_settings(**base, openai_image_model="gpt-image-9")
    with pytest.raises(SettingsError, match=r"DOPPEL_OPENAI_VISION_MODEL=gpt-vision-9 has no"):
        load_settings(**base, openai_strategy="describe", openai_vision_model="gpt-vision-9")
    # The default edit day is priced: a new user needs no price of their own.
    assert load_settings(**base).openai.strategy == "edit"
    for model in ("gpt-image-2.6-sunburst", "gpt-image-2.5-flare-2026-09-08"):
        assert load_settings(**base, openai_image_model=model).openai.image_model == model
    given = load_settings(**base, openai_image_model="gpt-image-9", openai_unpriced_call_usd=0.4)
    assert given.openai.unpriced_call_usd == 0.4
    assert load_settings(**base).max_paid_attempts == 2
    monkeypatch.setenv("DOPPEL_MAX_PAID_ATTEMPTS", "3")
    assert load_settings(**base).max_paid_attempts == 3


@pytest.mark.slow
def test_an_img2img_day_through_dagster_with_basic_auth(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "photos"
    folder.mkdir()
    entries = []
    for name in ("north", "south"):
        Image.linear_gradient("L").resize((96, 64)).convert("RGB").save(folder / f"{name}.jpg")
        entries.append({"id": name, "file": f"{name}.jpg", "description": f"the {name} pier"})
    (folder / "photos.json").write_text(json.dumps(entries))
    monkeypatch.setenv("DOPPEL_IMG2IMG_AUTH", "doppel:pier-secret")

    with Img2ImgImitation(auth=("doppel", "pier-secret")) as server:
        settings = migrated(
            load_settings(
                _env_file=None,
                data_dir=tmp_path / "data",
                source="folder",
                folder=folder,
                photos_per_day=2,
                generator="img2img",
                img2img_base_url=server.base_url,
                img2img_long_side=128,
                img2img_timeout_s=5,
            )
        )
        resources = build_resources(settings)
        assert isinstance(resources["image_generator"], Img2ImgResource)
        result = dg.materialize(  # one attempt per run: the server sees each request once
            daily_assets(TEST_PARTITIONS, step_retry=None),
            partition_key="2026-11-20",
            resources=resources,
        )
        assert result.success
        assert [r.status for r in server.requests] == [200, 200]
        prompts = sorted(r.json["prompt"] for r in server.requests)
        assert prompts[0].startswith("the north pier, ")

    db = Database(settings.resolved_database_url)
    with db.session() as session:
        rows = session.scalars(select(LookAlike)).all()
        assert [(r.status, r.generator, r.strategy, r.model) for r in rows] == [
            ("succeeded", "img2img", "img2img", "sdxl_imitation")
        ] * 2
        assert all("pier-secret" not in repr(vars(r)) for r in rows)
        # Each POST is in the ledger, reserved before it was sent and completed after.
        ledger = session.scalars(select(BilledRequest).order_by(BilledRequest.id)).all()
        assert [(r.generator, r.endpoint, r.outcome, r.http_status) for r in ledger] == [
            ("img2img", "/sdapi/v1/img2img", "billed", 200)
        ] * 2
        assert sorted(r.photo_id for r in ledger) == sorted(r.photo_id for r in rows)
    db.dispose()


def test_resources_hold_the_library_config_whole_and_secrets_by_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pipeline.lib.generators.img2img import Img2ImgConfig, Img2ImgGenerator
    from pipeline.lib.generators.openai_config import OpenAIImagesConfig

    monkeypatch.setenv("DOPPEL_IMG2IMG_AUTH", "u:p")
    settings = migrated(
        load_settings(
            _env_file=None,
            data_dir=tmp_path,
            generator="img2img",
            img2img_base_url="https://gpu:7860",
            img2img_steps=12,
            img2img_denoising_strength=0.4,
        )
    )
    resource = build_resources(settings)["image_generator"]
    assert isinstance(resource, Img2ImgResource)
    assert "auth" not in resource.config  # the secret travels by name, beside the config
    assert isinstance(resource.auth, dg.EnvVar) and resource.auth == "DOPPEL_IMG2IMG_AUTH"
    # One default for every field: the settings' is the library's (no copied default drifts).
    assert resource.config == dumped(
        Img2ImgConfig(base_url="https://gpu:7860", steps=12, denoising_strength=0.4)
    )
    assert resource.config["negative_prompt"] == Img2ImgConfig().negative_prompt != ""

    @dg.asset
    def opened(image_generator: Img2ImgResource) -> None:  # Dagster resolves the EnvVar
        generator = image_generator.open()
        assert isinstance(generator, Img2ImgGenerator)
        config = generator.config
        assert (config.base_url, config.steps, config.auth) == ("https://gpu:7860", 12, ("u", "p"))

    assert dg.materialize([opened], resources={"image_generator": resource}).success

    openai = OpenAIImagesResource(
        api_key="sk-x",
        config=dumped(OpenAIImagesConfig(strategy="describe", quality="high")),
        database=DatabaseResource(url="sqlite://"),
    )
    assert "api_key" not in openai.config
    assert (openai.config["strategy"], openai.config["quality"]) == ("describe", "high")

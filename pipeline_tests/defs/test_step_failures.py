"""The step retry is for blips only: a cause that would recur fails the step at once, with
the cause as the run's headline (the production step retry stays on here)."""

from pathlib import Path

import dagster as dg

from pipeline.defs.assets import daily_assets
from pipeline.defs.limits import API_STEP_RETRY, CAUSE, SETTING
from pipeline.defs.resources import build_resources
from pipeline.defs.resources.config import dumped
from pipeline.defs.resources.generators import StyleTransferResource
from pipeline.lib.generators.style_transfer.settings import StyleSettings
from pipeline.lib.settings import DoppelSettings
from pipeline_tests.fixtures.assets import TEST_PARTITIONS

DAY = "2026-11-20"


def run_look_alikes(settings: DoppelSettings, **resources: object) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        daily_assets(TEST_PARTITIONS, step_retry=API_STEP_RETRY),
        selection=["generated_images"],
        partition_key=DAY,
        resources=build_resources(settings) | resources,
        raise_on_error=False,
    )


def headline(result: dg.ExecuteInProcessResult) -> str:
    """What the UI shows at the top of a failed run: its failure event's error."""
    [failure] = [e for e in result.all_events if e.event_type == dg.DagsterEventType.RUN_FAILURE]
    error = failure.event_specific_data.error  # type: ignore[union-attr]
    assert not [e for e in result.all_events if e.event_type_value == "STEP_UP_FOR_RETRY"]
    return error.message if error is not None else ""


def test_a_day_never_collected_fails_at_once_saying_so(local_settings: DoppelSettings) -> None:
    result = run_look_alikes(local_settings)
    assert not result.success
    message = headline(result)
    assert f"No table for unsplash_images {DAY}: materialize that partition first." in message
    assert "Exceeded max_retries" not in message


def test_a_generator_setting_it_cannot_start_with_is_a_setting_to_fix(
    local_settings: DoppelSettings, tmp_path: Path
) -> None:
    missing = tmp_path / "no-such-folder"
    painter = StyleTransferResource(config=dumped(StyleSettings(style_folder=missing)))
    # The day's photos first, so the generator step is what fails.
    assert dg.materialize(
        daily_assets(TEST_PARTITIONS, step_retry=None),
        selection=["unsplash_images"],
        partition_key=DAY,
        resources=build_resources(local_settings),
    ).success
    result = run_look_alikes(local_settings, image_generator=painter)
    message = headline(result)
    assert f"the image generator cannot start: the style folder {missing} does not exist" in (
        message
    )
    [step] = result.get_step_failure_events()
    data = step.step_failure_data.user_failure_data  # type: ignore[union-attr]
    assert data is not None and data.metadata[CAUSE].value == SETTING

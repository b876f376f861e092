"""The gallery rebuilds itself after new look-alikes, one rebuild at a time."""

from __future__ import annotations

import uuid

import dagster as dg
import pytest

from pipeline.definitions import build_definitions
from pipeline.defs.assets.gallery_site import gallery_site
from pipeline.defs.assets.human_votes import build_human_votes
from pipeline.defs.resources import build_resources
from pipeline.defs.sensors import gallery_refresh_sensor
from pipeline.lib.settings import DoppelSettings, load_settings
from pipeline_tests.fakes import MirrorGeneratorResource
from pipeline_tests.fixtures.assets import TEST_PARTITIONS, generated_images, unsplash_images


def tick(
    instance: dg.DagsterInstance, defs: dg.Definitions, cursor: str | None
) -> dg.SensorExecutionData:
    context = dg.build_sensor_context(instance=instance, cursor=cursor, definitions=defs)
    return gallery_refresh_sensor.evaluate_tick(context)


@pytest.mark.slow
def test_rebuilds_after_new_lookalikes_once(local_settings: DoppelSettings) -> None:
    settings = load_settings(_env_file=None, data_dir=local_settings.data_dir, photos_per_day=1)
    resources = build_resources(settings) | {
        "image_generator": MirrorGeneratorResource(counter=f"mirror-{uuid.uuid4().hex}")
    }
    defs = build_definitions(settings)
    with dg.instance_for_test() as instance:
        first = tick(instance, defs, None)
        assert not first.run_requests and "no look-alikes" in (first.skip_message or "")

        def materialize(day: str) -> None:
            assert dg.materialize(
                [unsplash_images, generated_images],
                partition_key=day,
                resources=resources,
                instance=instance,
            ).success

        materialize("2026-11-20")
        second = tick(instance, defs, None)
        [request] = second.run_requests or []
        # The sensor targets one job, so its requests name none.
        assert gallery_refresh_sensor.job_name == "gallery_site_job"
        assert request.job_name is None and request.partition_key is None
        assert second.cursor

        third = tick(instance, defs, second.cursor)
        assert not third.run_requests and "already shows" in (third.skip_message or "")

        # A gallery built after the newest look-alikes (`doppel run` builds one) shows them:
        # a sensor starting afresh (`make dev` after `make run`) launches no empty rebuild.
        assert dg.materialize([gallery_site], resources=resources, instance=instance).success
        fresh = tick(instance, defs, None)
        assert not fresh.run_requests and "built after" in (fresh.skip_message or "")
        assert fresh.cursor == second.cursor

        # A rebuild still queued holds back the next one...
        queued = instance.create_run_for_job(job_def=defs.resolve_job_def("gallery_site_job"))
        materialize("2026-11-21")
        fourth = tick(instance, defs, fresh.cursor)
        assert not fourth.run_requests and "still going" in (fourth.skip_message or "")
        assert fourth.cursor == fresh.cursor
        # ...and once it is over, the newer look-alikes are rebuilt.
        instance.report_run_canceled(queued)
        fifth = tick(instance, defs, fresh.cursor)
        assert len(fifth.run_requests or []) == 1

        # A day's votes summed after that rebuild began (they come in the same run just after
        # the look-alikes) bring another, so the gallery shows people's rate.
        votes = build_human_votes(TEST_PARTITIONS)
        assert dg.materialize(
            [votes], partition_key="2026-11-21", resources=resources, instance=instance
        ).success
        assert len(tick(instance, defs, fifth.cursor).run_requests or []) == 1

import dagster as dg

from pipeline.lib.generators import ImageGenerator


class ImageGeneratorResource(dg.ConfigurableResource):
    """Draws the look-alikes; `concurrency` bounds the requests in flight within a day."""

    concurrency: int = 2

    def open(self) -> ImageGenerator:
        raise NotImplementedError


class PatchRemixResource(ImageGeneratorResource):
    """The offline patch-remix generator (CPU only, no weights, no key)."""

    work_size: int = 256
    output_size: int = 768
    max_attempts: int = 3

    def open(self) -> ImageGenerator:
        from pipeline.lib.generators.patch_remix import PatchRemixGenerator
        from pipeline.lib.patch_remix import RemixSettings

        return PatchRemixGenerator(
            RemixSettings(
                work_size=self.work_size,
                output_size=self.output_size,
                max_attempts=self.max_attempts,
            )
        )

import dagster as dg

from pipeline.lib.core.storage import LocalObjectStore, ObjectStore


class ObjectStoreResource(dg.ConfigurableResource):
    """Where image bytes, day tables and the site live."""

    def open(self) -> ObjectStore:
        raise NotImplementedError


class LocalObjectStoreResource(ObjectStoreResource):
    base_dir: str

    def open(self) -> ObjectStore:
        return LocalObjectStore(self.base_dir)

import dagster as dg
from dagster_aws.s3 import S3Resource
from pydantic import PrivateAttr

from pipeline.lib.core.storage import LocalObjectStore, ObjectStore, S3ObjectStore


class ObjectStoreResource(dg.ConfigurableResource):
    """Where image bytes, day tables and the site live."""

    def open(self) -> ObjectStore:
        raise NotImplementedError


class LocalObjectStoreResource(ObjectStoreResource):
    base_dir: str

    def open(self) -> ObjectStore:
        return LocalObjectStore(self.base_dir)


class S3ObjectStoreResource(ObjectStoreResource):
    """A bucket on S3 or any S3-compatible store (the endpoint lives on `s3`)."""

    s3: S3Resource
    bucket: str
    prefix: str = ""

    _store: S3ObjectStore | None = PrivateAttr(default=None)

    def open(self) -> ObjectStore:
        # One boto3 client per resource instance: building one costs 0.1-0.3 s.
        if self._store is None:
            self._store = S3ObjectStore(self.s3.get_client(), self.bucket, self.prefix)
        return self._store

"""The S3 store's resource, apart: dagster_aws costs about 0.9 s of CPU to import, paid by every
Dagster process (each run, the daemon, the webserver) only when the store is S3."""

from dagster_aws.s3 import S3Resource
from pydantic import PrivateAttr

from pipeline.defs.resources.storage import ObjectStoreResource
from pipeline.lib.core.storage import ObjectStore, S3ObjectStore


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

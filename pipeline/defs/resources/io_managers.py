from typing import Any

import dagster as dg

from pipeline.defs.keys import table_folder
from pipeline.defs.limits import permanent_failure
from pipeline.defs.resources.storage import ObjectStoreResource
from pipeline.lib.core.storage import ObjectNotFound
from pipeline.lib.day.tables import TABLES_PREFIX, DayTable, decode_table, encode_table, table_key

# How pandas' table orient begins; a day table begins with {"partition".
FRAME_START = b'{"schema"'


class DayTableIOManager(dg.ConfigurableIOManager):
    """Stores each partition's table (a `DayTable`, built from the database by
    `pipeline/lib/day/tables.py`) as JSON in the object store, and reads it back typed.
    The findings' unpartitioned tables are pandas DataFrames, stored as JSON with their
    dtypes (`pipeline/lib/findings/table.py`) under the same keys.

    Keys are partition-aware (`tables/<asset>/<day>.json`); with an S3 store this is the S3
    IO manager, with a local store the same code under a local base path. The schema and
    the stored form are the tables module's: this only puts and gets the bytes. The image
    bytes a table points at are written by the asset itself as each one is made, so a crash
    halfway through a day keeps everything already generated.
    """

    store: ObjectStoreResource
    prefix: str = TABLES_PREFIX

    def _key(self, asset_key: dg.AssetKey, partition: str | None) -> str:
        return table_key(table_folder(asset_key), partition, self.prefix)

    def handle_output(self, context: dg.OutputContext, obj: Any) -> None:
        partition = context.partition_key if context.has_partition_key else None
        key = self._key(context.asset_key, partition)
        if isinstance(obj, DayTable):
            data = encode_table(obj)
        elif type(obj).__name__ == "DataFrame":  # pandas, imported only where one is made
            from pipeline.lib.findings.table import encode_frame

            data = encode_frame(obj)
        else:
            raise dg.Failure(
                f"expected a DayTable or a DataFrame from {context.asset_key.to_user_string()}"
            )
        self.store.open().put(key, data, "application/json")
        context.add_output_metadata(
            {"table_uri": dg.MetadataValue.path(self.store.open().uri(key))}
        )

    def load_input(self, context: dg.InputContext) -> Any:
        asset_key = context.asset_key
        if not context.has_asset_partitions:
            return self._load(asset_key, None)
        keys = context.asset_partition_keys
        if len(keys) == 1:
            return self._load(asset_key, keys[0])
        return {key: self._load(asset_key, key) for key in keys}

    def _load(self, asset_key: dg.AssetKey, partition: str | None) -> Any:
        key = self._key(asset_key, partition)
        try:
            data = self.store.open().get(key)
            if data.startswith(FRAME_START):
                from pipeline.lib.findings.table import decode_frame

                return decode_frame(data)
            return decode_table(data)
        except ObjectNotFound:
            # It would be missing again on a step retry: say so at once, as the headline.
            raise permanent_failure(
                f"No table for {asset_key.to_user_string()} {partition}: materialize that "
                "partition first."
            ) from None

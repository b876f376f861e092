"""`human_votes[D]`: the game's answers cast on day D (UTC), summed per pair.

Its table (tables/human_votes/<D>.json, through the IO manager) holds counts only; the
`findings` asset sums every day's into each pair's "people picked the photo" rate. A
deployment without the vote service has no votes: each day's table is empty.
"""

from datetime import date

import dagster as dg

from pipeline.defs.keys import HUMAN_VOTES_KEY
from pipeline.defs.metadata import metadata
from pipeline.defs.partitions import day_asset
from pipeline.defs.resources import DatabaseResource, DoppelLogsResource
from pipeline.lib.day.tables import DayTable


def build_human_votes(partitions: dg.PartitionsDefinition) -> dg.AssetsDefinition:
    return day_asset(
        _human_votes,
        HUMAN_VOTES_KEY,
        partitions,
        group="findings",
        kinds={"python", "postgres"},
        description=(
            "The game's answers cast on the day (the vote service, deployed only), summed per "
            "pair: answers, how often the photo was picked, single-image answers and how many "
            "were right. Counts only: no browser id leaves the database."
        ),
    )


def _human_votes(
    context: dg.AssetExecutionContext,
    database: DatabaseResource,
    logs: DoppelLogsResource,
) -> dg.Output[DayTable]:
    from pipeline.lib.votes.tally import day_tally

    tally = day_tally(database.get(), date.fromisoformat(context.partition_key))
    pair_votes = sum(row["pair_votes"] or 0 for row in tally)
    picked = sum(row["photo_picked"] or 0 for row in tally)
    single = sum(row["single_votes"] or 0 for row in tally)
    summary = {
        "pairs": len(tally),
        "pair_votes": pair_votes,
        "photo_picked": picked,
        "single_votes": single,
    }
    return dg.Output(tally, metadata=metadata(summary))

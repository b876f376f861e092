import dagster as dg

from pipeline.lib.observability.logs import configure_logging


class DoppelLogsResource(dg.ConfigurableResource):
    """Doppel's logging in the process that runs a step: every log record's secrets masked,
    and JSON lines with DOPPEL_LOG_FORMAT=json. Dagster sets it up in each process that runs
    a step needing it, before the step's code; loading the definitions configures nothing."""

    log_format: str = "text"
    log_level: str = "INFO"

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        configure_logging(self.log_format, self.log_level)

"""Plain Python behind the pipeline: no Dagster decorators, each module testable on its own."""

"""One container per run on a Docker engine (docker-compose.docker-runs.yml, docs/deploy.md).

dagster-docker's `DockerRunLauncher` hands a run's container only the variables its
`env_vars` list names, and refuses to launch if one of them is unset in the launcher's own
environment. Doppel's settings are mostly optional (`.env` sets the ones a deployment needs),
so no fixed list fits every `.env`. This launcher forwards, by name, every variable of the
launching process (the daemon, which reads the same `.env` as the code server) that Doppel,
its Dagster instance or its clients read. Values are read at launch and go only to the
engine: the run's stored record holds names, never secrets.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from dagster import DagsterRun
from dagster_docker import DockerRunLauncher
from dagster_docker.container_context import DockerContainerContext

# What a run reads: Doppel's settings, the instance's storage and compute logs, S3 and the
# APIs' keys. Not forwarded: the MinIO root and Grafana passwords the same `.env` holds.
FORWARDED_PREFIXES = (
    "DOPPEL_",
    "DAGSTER_PG_",
    "DAGSTER_COMPUTE_LOGS_",
    "AWS_",
    "OPENAI_",
    "UNSPLASH_",
)


def forwarded_names(environ: Mapping[str, str]) -> list[str]:
    """The variables of `environ` a run container gets, sorted."""
    return sorted(name for name in environ if name.startswith(FORWARDED_PREFIXES))


class EnvForwardingDockerRunLauncher(DockerRunLauncher):
    """`DockerRunLauncher` that also forwards Doppel's environment (see the module's doc)."""

    def get_container_context(self, dagster_run: DagsterRun) -> DockerContainerContext:
        context = super().get_container_context(dagster_run)
        named = {entry.split("=", 1)[0] for entry in context.env_vars}
        extra = [name for name in forwarded_names(os.environ) if name not in named]
        return context.merge(DockerContainerContext(env_vars=extra))

# One image for every Doppel service: the one-shot migrate, the Dagster code server (where
# runs execute), the webserver, the daemon and the metrics exporter; docker-compose.yml
# picks the command.
# It also runs each run's own container under docker-compose.docker-runs.yml.
# Build: docker build -t doppel .   Size: python slim + the locked set (requirements.lock).

FROM python:3.11.10-slim-bookworm AS base
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH

FROM base AS deps
# uv installs the lock several times faster than pip (the same version `make install` uses);
# it lives in a venv of its own that the final image never copies. It trusts the system's
# certificates (UV_NATIVE_TLS), as pip does.
ENV UV_NATIVE_TLS=1 UV_NO_CACHE=1 UV_LINK_MODE=copy
RUN python -m venv /opt/uv && /opt/uv/bin/pip install --no-cache-dir uv==0.13.9 \
    && python -m venv /opt/venv
# Exactly the locked set (every version and hash fixed, nothing resolved at build time). This
# stage depends on the lock only, so a code change neither reinstalls nor recopies it.
COPY requirements.lock /opt/
RUN /opt/uv/bin/uv pip install --python /opt/venv/bin/python --require-hashes --no-deps \
        -r /opt/requirements.lock

# Doppel's wheel, built from the sources (setuptools as pyproject.toml's build-system asks);
# the image installs the wheel, as a user would, not the source folder.
FROM deps AS wheel
COPY pyproject.toml README.md /opt/src/
COPY pipeline /opt/src/pipeline
COPY site /opt/src/site
RUN /opt/uv/bin/uv build --wheel --out-dir /opt/dist /opt/src

FROM base
# An unprivileged user; DAGSTER_HOME holds the instance config (storage is in PostgreSQL,
# compute logs in S3), plus Dagster's small local scratch files.
RUN groupadd --system --gid 10001 doppel \
    && useradd --system --uid 10001 --gid doppel --home-dir /opt/doppel --shell /usr/sbin/nologin doppel \
    && mkdir -p /opt/dagster/home /opt/dagster/home-docker-runs \
    && chown doppel:doppel /opt/dagster/home /opt/dagster/home-docker-runs
COPY --from=deps /opt/venv /opt/venv
# The wheel alone (its dependencies are the locked set above): the gallery's templates and
# static files are inside it. Only this small layer changes with the code.
COPY --from=wheel /opt/dist/ /opt/dist/
RUN pip install --no-cache-dir --no-deps --no-index /opt/dist/doppel-*.whl && rm -rf /opt/dist
WORKDIR /opt/doppel
RUN chown doppel:doppel /opt/doppel
COPY dagster.yaml workspace.yaml /opt/dagster/home/
# The instance of one container per run: the same dagster.yaml plus its run launcher.
COPY deploy/docker-runs/run-launcher.yaml /opt/dagster/
RUN cat /opt/dagster/home/dagster.yaml /opt/dagster/run-launcher.yaml \
        >/opt/dagster/home-docker-runs/dagster.yaml \
    && cp /opt/dagster/home/workspace.yaml /opt/dagster/home-docker-runs/
ENV DAGSTER_HOME=/opt/dagster/home
USER 10001:10001
EXPOSE 3000 4000 9108
# The code server by default; the webserver, daemon and exporter override the command.
CMD ["dagster", "code-server", "start", "-h", "0.0.0.0", "-p", "4000", "-m", "pipeline.definitions"]

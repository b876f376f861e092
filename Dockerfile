# One image for every Doppel service: the Dagster code server (where runs execute), the
# webserver, the daemon and the metrics exporter; docker-compose.yml picks the command.
# Build: docker build -t doppel .   Size: python slim + the locked set (requirements.lock).

FROM python:3.11.10-slim-bookworm AS base
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH

FROM base AS build
WORKDIR /opt/doppel
RUN python -m venv /opt/venv
# Dependencies first, exactly the locked set (every version and hash fixed, nothing resolved
# at build time), so a code change does not reinstall them.
COPY requirements.lock ./
RUN pip install --no-cache-dir --require-hashes --no-deps -r requirements.lock
COPY pyproject.toml README.md ./
# The project is installed in place (editable): the gallery's templates in site/ are found
# next to the package, as in a checkout.
COPY pipeline ./pipeline
COPY site ./site
RUN pip install --no-cache-dir --no-deps -e .

FROM base
# An unprivileged user; DAGSTER_HOME holds the instance config (storage is in PostgreSQL,
# compute logs in S3), plus Dagster's small local scratch files.
RUN groupadd --system --gid 10001 doppel \
    && useradd --system --uid 10001 --gid doppel --home-dir /opt/doppel --shell /usr/sbin/nologin doppel \
    && mkdir -p /opt/dagster/home \
    && chown doppel:doppel /opt/dagster/home
COPY --from=build /opt/venv /opt/venv
COPY --from=build --chown=doppel:doppel /opt/doppel /opt/doppel
COPY dagster.yaml workspace.yaml /opt/dagster/home/
ENV DAGSTER_HOME=/opt/dagster/home
WORKDIR /opt/doppel
USER 10001:10001
EXPOSE 3000 4000 9108
# The code server by default; the webserver, daemon and exporter override the command.
CMD ["dagster", "code-server", "start", "-h", "0.0.0.0", "-p", "4000", "-m", "pipeline.definitions"]

"""docker-compose.yml / docker-compose.dev.yml: the compose-spec schema, then what the schema
cannot say (start-up order, shared environment, pinned images, documented variables, no
secret in the file), and the gallery's nginx config serving a site out of a bucket."""

from __future__ import annotations

import http.client
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest

from pipeline.lib.settings import variables
from pipeline_tests.deploy.tools import REPO, load_yaml, run, tool
from pipeline_tests.deploy.tools import gallery_nginx as running_gallery_nginx

# One worker takes the whole module, so its module fixtures are made once.
pytestmark = pytest.mark.xdist_group("test_compose")

COMPOSE_FILES = ["docker-compose.yml", "docker-compose.dev.yml"]
# An override of docker-compose.yml (one container per run), not a file of its own.
DOCKER_RUNS = "docker-compose.docker-runs.yml"
DAGSTER_SERVICES = ["user_code", "webserver", "daemon", "exporter"]
SECRET_NAME = re.compile(r"PASSWORD|SECRET|API_KEY|ACCESS_KEY|TOKEN")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return load_yaml("docker-compose.yml")


def env_of(service: dict[str, Any]) -> dict[str, str]:
    return {k: str(v) for k, v in (service.get("environment") or {}).items()}


def test_compose_files_match_the_compose_spec_schema() -> None:
    checker = tool("check-jsonschema", "make install")
    result = run(checker, "--builtin-schema", "vendor.compose-spec", *COMPOSE_FILES, DOCKER_RUNS)
    assert result.returncode == 0, result.stdout + result.stderr


def test_compose_start_order_waits_for_healthy_dependencies(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert "healthcheck" in services["postgres"] and "healthcheck" in services["minio"]
    for name in ["user_code", "webserver", "daemon", "exporter"]:
        assert services[name]["depends_on"]["postgres"]["condition"] == "service_healthy", name
    for name in ["webserver", "daemon"]:
        assert services[name]["depends_on"]["user_code"]["condition"] == "service_healthy"
    assert services["user_code"]["depends_on"]["minio-init"]["condition"] == (
        "service_completed_successfully"
    )
    assert services["minio-init"]["restart"] == "no"
    # Migrations once, before any Doppel process starts (they only check the schema).
    migrate = services["migrate"]
    assert migrate["command"] == ["doppel", "migrate"] and migrate["restart"] == "no"
    assert migrate["image"] == services["user_code"]["image"]
    assert env_of(migrate) == env_of(services["webserver"])
    for name in DAGSTER_SERVICES:
        assert services[name]["depends_on"]["migrate"]["condition"] == (
            "service_completed_successfully"
        ), name


def test_compose_dagster_services_share_image_workspace_and_instance(
    compose: dict[str, Any],
) -> None:
    services = compose["services"]
    images = {services[name]["image"] for name in DAGSTER_SERVICES}
    assert len(images) == 1
    # The daemon must see the code server exactly as the webserver does (dagster#17493).
    for name in ["webserver", "daemon"]:
        command = services[name]["command"]
        assert command[command.index("-w") + 1] == "/opt/dagster/home/workspace.yaml"
    workspace = load_yaml("workspace.yaml")["load_from"][0]["grpc_server"]
    code_server = services["user_code"]["command"]
    assert workspace["host"] == "user_code"
    assert str(workspace["port"]) == code_server[code_server.index("-p") + 1]
    # Every {env: X} in dagster.yaml reaches every Dagster process, including the code
    # server where runs execute (DefaultRunLauncher).
    instance_vars = set(re.findall(r"\{env: (\w+)\}", (REPO / "dagster.yaml").read_text()))
    for name in DAGSTER_SERVICES:
        missing = instance_vars - set(env_of(services[name]))
        assert not missing, f"{name} lacks {sorted(missing)}"


def test_compose_images_are_pinned_and_mounts_exist() -> None:
    for path in COMPOSE_FILES:
        for name, service in load_yaml(path)["services"].items():
            image = service.get("image", "")
            if image.startswith("${DOPPEL_IMAGE"):
                continue
            repo, _, tag = image.rpartition(":")
            assert repo and re.search(r"\d", tag) and tag != "latest", f"{path}:{name} {image}"
            for volume in service.get("volumes", []):
                source = volume.split(":")[0]
                if source.startswith("./"):
                    assert (REPO / source).exists(), f"{path}:{name} mounts missing {source}"


def test_compose_holds_no_secret_and_env_example_documents_every_variable() -> None:
    example = (REPO / ".env.example").read_text()
    for path in [*COMPOSE_FILES, DOCKER_RUNS]:
        text = (REPO / path).read_text()
        for name in set(re.findall(r"(?<!\$)\$\{(\w+)", text)):  # $${X}: the container's
            assert re.search(rf"\b{name}=", example), f"{path} uses ${{{name}}}, undocumented"
        if path == "docker-compose.yml":  # the dev file holds local-only dev credentials
            for service in load_yaml(path)["services"].values():
                for key, value in env_of(service).items():
                    if SECRET_NAME.search(key):
                        assert value.startswith("${"), f"{key} is written in {path}"


def test_compose_env_example_documents_every_setting() -> None:
    example = (REPO / ".env.example").read_text()
    for variable in variables():  # the nested configs' fields included
        assert re.search(rf"\b{re.escape(variable.name)}=", example), variable.name
    for name in re.findall(r"\{env: (\w+)\}", (REPO / "dagster.yaml").read_text()):
        assert re.search(rf"\b{name}=", example), name


def test_compose_docker_runs_override_moves_only_the_launchers_to_docker_runs() -> None:
    """The daemon (which launches runs) and the webserver (which may stop one) use the image's
    second instance, can reach the engine, and tell run containers the stack's network."""
    services = load_yaml(DOCKER_RUNS)["services"]
    assert set(services) == {"daemon", "webserver"}
    home = "/opt/dagster/home-docker-runs"
    assert f">{home}/dagster.yaml" in (REPO / "Dockerfile").read_text()
    assert load_yaml("docker-compose.yml")["name"] == "doppel"  # its network: doppel_default
    for service in services.values():
        assert env_of(service)["DAGSTER_HOME"] == home
        assert env_of(service)["DOPPEL_RUN_NETWORK"] == "${DOPPEL_RUN_NETWORK:-doppel_default}"
        assert "/var/run/docker.sock:/var/run/docker.sock" in service["volumes"]
        assert service["group_add"][0].startswith("${DOCKER_SOCKET_GID:?")


def test_compose_dev_file_runs_only_postgres_and_minio() -> None:
    services = load_yaml("docker-compose.dev.yml")["services"]
    assert set(services) == {"postgres", "minio", "minio-init"}
    for service in services.values():
        for port in service.get("ports", []):
            assert port.startswith("127.0.0.1:"), port
    dev_env = dict(
        line.split("=", 1)
        for line in (REPO / "deploy/dev.env").read_text().splitlines()
        if line and not line.startswith("#")
    )
    instance_vars = set(re.findall(r"\{env: (\w+)\}", (REPO / "dagster.yaml").read_text()))
    assert instance_vars <= set(dev_env)


# --- The gallery's nginx config, for real --------------------------------------------------


@pytest.fixture
def gallery_nginx(s3_server: str, s3_bucket: str, tmp_path: Path) -> Iterator[str]:
    """nginx with deploy/nginx/gallery.conf.template (rendered as the image does) in front
    of moto's S3 server, as it is in front of MinIO in compose."""
    with running_gallery_nginx(tmp_path, f"{s3_server}/{s3_bucket}/doppel/site") as url:
        yield url


SECURITY_HEADERS = {
    "content-security-policy": "frame-ancestors 'none'",
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "strict-origin-when-cross-origin",
}
PRIVATE = b'{"table": "PRIVATE-TABLE-ROWS"}'
TRAVERSALS = (
    "/../tables/private.json",
    "/2026/../../tables/private.json",
    "/%2e%2e/tables/private.json",
    "/..%2ftables/private.json",
    "/_doppel/../../tables/private.json",
)


def raw_get(base: str, path: str) -> tuple[int, bytes]:
    """GET `path` exactly as written (no client-side normalisation of `..`)."""
    url = httpx.URL(base)
    connection = http.client.HTTPConnection(url.host, url.port, timeout=10)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def public_read(bucket: str, prefix: str) -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": ["*"]},
                "Action": ["s3:GetObject"],
                "Resource": [f"arn:aws:s3:::{bucket}/{prefix}/*"],
            }
        ],
    }


@pytest.mark.slow
def test_compose_gallery_nginx_serves_the_site_from_the_bucket(
    gallery_nginx: str, s3_server: str, s3_bucket: str
) -> None:
    s3 = boto3.client("s3", endpoint_url=s3_server, region_name="us-east-1")
    site = {
        "index.html": ("<h1>Days</h1>", "text/html; charset=utf-8"),
        "2026/11/26/index.html": ("<h1>26 November</h1>", "text/html; charset=utf-8"),
        "media/abc.webp": ("RIFF....WEBP", "image/webp"),
        "_doppel/manifest.json": ('{"files": {}}', "application/json"),
    }
    for key, (body, kind) in site.items():
        s3.put_object(Bucket=s3_bucket, Key=f"doppel/site/{key}", Body=body, ContentType=kind)
    s3.put_object(Bucket=s3_bucket, Key="doppel/tables/private.json", Body=PRIVATE)
    # What `mc anonymous set download` does in deploy/minio/init.sh: read, site prefix only;
    # and here the private table too, so that only nginx stands between it and a visitor
    # (the traversals below test nginx itself, not the bucket's policy behind it).
    policy = public_read(s3_bucket, "doppel/site")
    policy["Statement"][0]["Resource"].append(f"arn:aws:s3:::{s3_bucket}/doppel/tables/*")
    s3.put_bucket_policy(Bucket=s3_bucket, Policy=json.dumps(policy))
    base = gallery_nginx.removesuffix("/")
    assert httpx.get(f"{s3_server}/{s3_bucket}/doppel/tables/private.json").content == PRIVATE
    assert raw_get(base, "/index.html")[0] == 200  # the raw client itself works

    index = httpx.get(f"{gallery_nginx}/")
    assert index.status_code == 200 and "<h1>Days</h1>" in index.text
    assert index.headers["content-type"].startswith("text/html")
    assert index.headers["cache-control"] == "no-cache"
    day = httpx.get(f"{gallery_nginx}/2026/11/26/")
    assert day.status_code == 200 and "26 November" in day.text
    image = httpx.get(f"{gallery_nginx}/media/abc.webp")
    assert image.status_code == 200 and "immutable" in image.headers["cache-control"]
    assert "x-amz-request-id" not in image.headers
    # Outside the site prefix, the manifest, unknown pages and writes: nothing. The paths
    # go out as written (httpx would resolve the dot segments before sending them).
    for path in TRAVERSALS:
        status, body = raw_get(base, path)
        assert status in (400, 404) and PRIVATE not in body, (path, status)
    assert httpx.get(f"{gallery_nginx}/_doppel/manifest.json").status_code == 404
    missing = httpx.get(f"{gallery_nginx}/2030/01/01/index.html")
    assert missing.status_code == 404 and "Back to the gallery" in missing.text
    assert httpx.put(f"{gallery_nginx}/index.html", content=b"x").status_code == 404
    stored = s3.get_object(Bucket=s3_bucket, Key="doppel/site/index.html")["Body"].read()
    assert stored == b"<h1>Days</h1>"

    # The same headers on every kind of answer: a page, an image, the manifest's 404, the
    # error page, a refused write, the health check (nginx drops a server's add_header in
    # any location that has its own, so each kind is asked).
    answers = {
        "page": httpx.get(f"{gallery_nginx}/"),
        "image": image,
        "manifest": httpx.get(f"{gallery_nginx}/_doppel/manifest.json"),
        "missing": missing,
        "write": httpx.put(f"{gallery_nginx}/index.html", content=b"x"),
        "health": httpx.get(f"{gallery_nginx}/healthz"),
    }
    for kind, response in answers.items():
        headers = {k: response.headers.get(k) for k in SECURITY_HEADERS}
        assert headers == SECURITY_HEADERS, (kind, response.status_code, headers)

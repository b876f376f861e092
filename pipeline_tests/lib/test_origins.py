"""The one origin parser, through every use: the image allow-list setting, the URL policy and
the gallery's Content-Security-Policy agree on every form docs/unsplash.md shows, and a
malformed entry stops the settings with a line naming the variable."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from pipeline.defs.names import DAY_TABLES
from pipeline.defs.resources import build_resources
from pipeline.lib.core.origins import Origin, OriginError, parse_origin, service_url
from pipeline.lib.core.storage import LocalObjectStore
from pipeline.lib.settings import SettingsError, load_settings
from pipeline.lib.site import build_site
from pipeline.lib.sources.url_policy import UrlPolicy, UrlRefused, parse_origins

DOCS = Path(__file__).parents[2] / "docs" / "unsplash.md"

# (the form as the docs write it, an entry of that form, the origin the CSP must name)
FORMS = [
    ("host", "images.example.com", "https://images.example.com"),
    ("host:port", "images.example.com:8443", "https://images.example.com:8443"),
    ("https://host", "https://images.example.com", "https://images.example.com"),
    ("https://host:port", "https://images.example.com:8443", "https://images.example.com:8443"),
    ("http://127.0.0.1:PORT", "http://127.0.0.1:8123", "http://127.0.0.1:8123"),
    ("http://localhost:PORT", "http://localhost:8123", "http://localhost:8123"),
    ("any case", "HTTPS://Images.Example.COM", "https://images.example.com"),
    ("a trailing /", "https://images.example.com:8443/", "https://images.example.com:8443"),
    ("a default port", "https://images.example.com:443", "https://images.example.com"),
    ("punycode", "https://Bücher.example", "https://xn--bcher-kva.example"),
]


def _resolve(host: str, port: int) -> list[str]:
    return ["127.0.0.1" if host == "localhost" else "93.184.216.34"]


def test_the_table_covers_every_form_the_docs_show() -> None:
    lines = DOCS.read_text().splitlines()
    [row] = [line for line in lines if line.startswith("| `DOPPEL_UNSPLASH_IMAGE_HOSTS`")]
    meaning = row.split("|")[3]
    shown = {m for m in re.findall(r"`([^`]+)`", meaning) if m not in ("/", ":443")}
    tested = {form for form, _, _ in FORMS}
    assert shown and shown <= tested, shown - tested
    assert "any case" in meaning and "trailing `/`" in meaning and "default port" in meaning


def test_every_documented_form_builds_a_gallery_whose_csp_names_exactly_that_origin(
    tmp_path: Path,
) -> None:
    policies = {}
    for form, entry, origin in FORMS:
        settings = load_settings(_env_file=None, unsplash_image_hosts=entry)
        gallery = build_resources(settings)["gallery"]
        out = LocalObjectStore(tmp_path / form.replace(" ", "-").replace("/", "slash"))
        build_site(out, tables=DAY_TABLES, image_origins=tuple(gallery.image_origins))
        index = (out.root / "site" / "index.html").read_text().replace("&#39;", "'")
        [policy] = re.findall(r'http-equiv="Content-Security-Policy" content="([^"]*)"', index)
        [policies[form]] = re.findall(r"img-src ([^;]*);", policy)
        # The URL policy allows that origin, and not the same host on another port.
        allow = UrlPolicy(parse_origins([entry]), resolve=_resolve)
        allow.check(f"{origin}/photo-1.jpg?ixid=X")
        other_port = re.sub(r":\d+$", "", origin) + ":9"
        with pytest.raises(UrlRefused, match="not on the allow-list"):
            allow.check(f"{other_port}/photo-1.jpg")
    assert policies == {form: f"'self' {origin}" for form, _, origin in FORMS}


@pytest.mark.parametrize(
    ("entry", "why"),
    [
        ("https://http://127.0.0.1:46829", "not an origin: write scheme://host"),
        ("https://images.example.com/photos", "not an origin"),
        ("http://images.example.com:8080", "plain http only for a loopback address"),
        ("http://127.0.0.1", "plain http only for a loopback address with its port"),
        ("http://[::1]:8123", "browsers ignore an IPv6 address"),
        ("ftp://images.example.com", "ftp scheme, not http"),
        ("https://user:pw@images.example.com", "credentials do not belong"),
        ("https://images example.com", "is not a host name"),
        ("https://images.example.com:99999", "out of range"),
        ("https://127.1", "neither a host name nor an IP address"),
    ],
)
def test_a_malformed_entry_stops_the_settings_naming_the_variable(entry: str, why: str) -> None:
    with pytest.raises(SettingsError) as raised:
        load_settings(_env_file=None, unsplash_image_hosts=f"images.unsplash.com, {entry}")
    message = str(raised.value)
    assert message.startswith("invalid settings: DOPPEL_UNSPLASH_IMAGE_HOSTS: ")
    assert why in message and "\n" not in message and "Value error" not in message


def test_origins_are_read_one_way() -> None:
    assert parse_origin("[::1]:8443") == Origin("https", "::1", 8443)
    assert str(parse_origin("https://[FE80::01]:8443/")) == "https://[fe80::1]:8443"
    assert str(parse_origin("http://LOCALHOST:80")) == "http://localhost"
    assert parse_origin("https://a.example.:443") == parse_origin("A.example")
    with pytest.raises(OriginError, match="empty"):
        parse_origin("  ")


@pytest.mark.parametrize(
    ("url", "ok"),
    [
        ("https://api.unsplash.com", True),
        ("http://127.0.0.1:7860", True),
        ("http://[::1]:7860/", True),
        ("http://localhost:7860/sd", True),
        ("http://192.168.1.20:7860", False),
        ("http://gpu.example.com", False),
        ("ftp://127.0.0.1/", False),
    ],
)
def test_a_service_url_is_https_unless_it_is_loopback(url: str, ok: bool) -> None:
    if ok:
        assert service_url(url).endswith("/")
    else:
        with pytest.raises(OriginError, match=r"must be an https:// URL|scheme, not http"):
            service_url(url)


@pytest.mark.parametrize(
    ("variable", "url"),
    [
        ("DOPPEL_IMG2IMG_BASE_URL", "http://gpu-box:7860"),
        ("DOPPEL_OPENAI_BASE_URL", "http://gpu-box:8000/v1"),
        ("OPENAI_BASE_URL", "http://10.0.0.5:8000/v1"),
        ("DOPPEL_UNSPLASH_BASE_URL", "http://api.unsplash.com/"),
    ],
)
def test_credentials_never_go_over_plain_http_to_another_host(
    variable: str, url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each of these URLs carries a key or a password: refused at start, naming the setting
    (OPENAI_BASE_URL is read as DOPPEL_OPENAI_BASE_URL)."""
    monkeypatch.setenv(variable, url)
    with pytest.raises(SettingsError) as raised:
        load_settings(_env_file=None)
    shown = variable if variable.startswith("DOPPEL_") else f"DOPPEL_{variable}"
    assert str(raised.value) == (
        f"invalid settings: {shown}: must be an https:// URL (plain http only for "
        f"127.0.0.1, ::1 or localhost), got {url!r}"
    )
    monkeypatch.setenv(variable, url.replace("http://", "https://"))
    load_settings(_env_file=None)

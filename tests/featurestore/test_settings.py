from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

import pytest

from featurestore.errors import ConfigError
from featurestore.project import Project
from featurestore.settings import DEFAULT_REDIS_URL, parse_redis_url, redis_timeout_from_env

ROOT = Path(__file__).resolve().parents[2]


def test_the_checkout_is_the_flights_project() -> None:
    project = Project.find(environ={}, cwd=ROOT / "feature_repo")
    assert (project.name, project.root) == ("flights", ROOT)
    assert project.repo_path == ROOT / "feature_repo"
    assert project.jobs_dir == ROOT / "ingestion" / "jobs"
    assert project.data_dir == ROOT / "data"
    assert project.redis_url == DEFAULT_REDIS_URL
    assert list(project.sources) == ["flights", "weather", "planes", "airlines", "airports"]


def test_redis_url_becomes_feast_connection_string() -> None:
    address = parse_redis_url("rediss://:s3cret@cache.internal:6380/2")
    assert address.feast_connection_string() == (
        'cache.internal:6380,db=2,password="s3cret",ssl=true'
    )
    assert not address.is_local
    assert parse_redis_url("redis://127.0.0.1:6399/0").is_local


@pytest.mark.parametrize("url", ["localhost:6379", "http://x:1/0", "redis://h:1/notanumber"])
def test_bad_redis_url_is_a_config_error(url: str) -> None:
    with pytest.raises(ConfigError):
        Project.find(environ={"FEATURESTORE_REDIS_URL": url}, cwd=ROOT)


def test_repo_without_feature_store_yaml(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"no feature_store\.yaml"):
        Project.find(environ={"FEATURESTORE_REPO_PATH": str(tmp_path)})


def test_a_bad_redis_url_never_shows_its_password() -> None:
    for url in ("redis://:s3cretpw@127.0.0.1:6400/abc", "http://u:s3cretpw@h:1/0"):
        with pytest.raises(ConfigError) as error:
            parse_redis_url(url)
        assert "s3cretpw" not in str(error.value)
        assert "***" in str(error.value)


def test_redis_timeout_from_env() -> None:
    assert redis_timeout_from_env({}) == 1.0
    assert redis_timeout_from_env({"FEATURESTORE_REDIS_TIMEOUT": "0.25"}) == 0.25
    for bad in ("0", "-1", "soon", "nan", "inf"):
        with pytest.raises(ConfigError, match="FEATURESTORE_REDIS_TIMEOUT must be a positive"):
            redis_timeout_from_env({"FEATURESTORE_REDIS_TIMEOUT": bad})


def test_redis_url_user_password_and_tls_files() -> None:
    address = parse_redis_url(
        "rediss://app%40team:p%40ss%3Aw%2Frd%25@cache:6380/1"
        "?ssl_ca_certs=/etc/ca.pem&ssl_certfile=/c.pem&ssl_keyfile=/c.key"
    )
    assert (address.username, address.password) == ("app@team", "p@ss:w/rd%")  # decoded
    assert (address.ssl_ca_certs, address.ssl_certfile, address.ssl_keyfile) == (
        "/etc/ca.pem", "/c.pem", "/c.key",
    )  # fmt: skip
    kwargs = address.redis_kwargs()
    assert (kwargs["username"], kwargs["password"], kwargs["ssl"]) == (
        "app@team",
        "p@ss:w/rd%",
        True,
    )
    assert kwargs["ssl_ca_certs"] == "/etc/ca.pem"
    assert "p@ss" not in repr(address) and "***" in repr(address)


def test_feast_reads_back_exactly_what_the_connection_string_says() -> None:
    """Feast reads each value of its connection string as JSON when it can: a password
    ``123`` or ``null`` must stay a string, not become a number or no password."""
    from feast.infra.online_stores.redis import RedisOnlineStore

    for password in ("123", "null", "true", 'a"b', "p=q", "s3cret"):
        url = f"rediss://:{quote(password, safe='')}@h:1/0?ssl_ca_certs=/ca.pem"
        text = parse_redis_url(url).feast_connection_string()
        nodes, params = RedisOnlineStore._parse_connection_string(text)
        assert nodes == [{"host": "h", "port": "1"}]
        assert params == {"db": 0, "password": password, "ssl": True, "ssl_ca_certs": "/ca.pem"}
    with pytest.raises(ConfigError, match="password contains a ','") as error:
        parse_redis_url("redis://:a%2Cb-s3cret@h:1/0").feast_connection_string()
    assert "s3cret" not in str(error.value)


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("rediss://:s3cretpw@h:1/0?password=s3cretpw", "unknown options"),
        ("redis://:s3cretpw@h:1/0?ssl_ca_certs=/ca.pem", "TLS options need rediss://"),
    ],
)
def test_redis_url_options_are_checked(url: str, problem: str) -> None:
    with pytest.raises(ConfigError, match=problem) as error:
        parse_redis_url(url)
    assert "s3cretpw" not in str(error.value)


def test_unusable_tls_files_are_one_config_error(tmp_path: Path) -> None:
    address = parse_redis_url(f"rediss://h:1/0?ssl_ca_certs={tmp_path / 'missing.pem'}")
    with pytest.raises(ConfigError, match="TLS files cannot be used"):
        address.ssl_context()

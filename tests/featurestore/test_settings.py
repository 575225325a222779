from __future__ import annotations

from pathlib import Path

import pytest

from featurestore.errors import ConfigError
from featurestore.settings import DEFAULT_REDIS_URL, Settings, parse_redis_url

ROOT = Path(__file__).resolve().parents[2]


def test_defaults_point_at_this_checkout() -> None:
    settings = Settings.from_env({})
    assert settings.repo_path == ROOT / "feature_repo"
    assert settings.data_dir == ROOT / "data"
    assert settings.redis_url == DEFAULT_REDIS_URL


def test_redis_url_becomes_feast_connection_string() -> None:
    address = parse_redis_url("rediss://:s3cret@cache.internal:6380/2")
    assert address.feast_connection_string() == "cache.internal:6380,db=2,password=s3cret,ssl=true"
    assert not address.is_local
    assert parse_redis_url("redis://127.0.0.1:6399/0").is_local


@pytest.mark.parametrize("url", ["localhost:6379", "http://x:1/0", "redis://h:1/notanumber"])
def test_bad_redis_url_is_a_config_error(url: str) -> None:
    with pytest.raises(ConfigError):
        Settings.from_env({"FEATURESTORE_REDIS_URL": url})


def test_repo_without_feature_store_yaml(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"no feature_store\.yaml"):
        Settings.from_env({"FEATURESTORE_REPO_PATH": str(tmp_path)})

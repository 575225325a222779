"""Cluster and sentinel forms of the Redis URL: what they name, what Feast is told, and one
clear ``ConfigError`` line for every malformed one (never the password)."""

from __future__ import annotations

from pathlib import Path

import pytest
from feast.infra.online_stores.redis import RedisOnlineStore

from featurestore.errors import ConfigError
from featurestore.project import Project
from featurestore.settings import parse_redis_url

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("scheme", ["redis+cluster", "redis-cluster"])
def test_a_cluster_url_lists_its_nodes(scheme: str) -> None:
    address = parse_redis_url(f"{scheme}://:s3cret@10.0.0.1:7000,10.0.0.2:7001,cache/0")
    assert address.topology == "cluster" and address.is_cluster
    assert address.nodes == (("10.0.0.1", 7000), ("10.0.0.2", 7001), ("cache", 6379))
    assert (address.db, address.password, address.ssl) == (0, "s3cret", False)
    assert "db" not in address.connection_kwargs()  # redis-py's RedisCluster takes none
    assert "s3cret" not in repr(address)
    assert parse_redis_url(f"{scheme}://h:1").nodes == (("h", 1),)  # the database is optional


def test_a_tls_cluster_url_takes_the_tls_files() -> None:
    address = parse_redis_url("rediss+cluster://u:p%40ss@h:1,h:2/0?ssl_ca_certs=/ca.pem")
    assert (address.ssl, address.ssl_ca_certs, address.username, address.password) == (
        True, "/ca.pem", "u", "p@ss",
    )  # fmt: skip
    assert parse_redis_url("rediss-cluster://h:1").ssl


def test_a_sentinel_url_names_sentinels_master_and_database() -> None:
    address = parse_redis_url("redis+sentinel://:pw@s1:26380,s2/mymaster/3")
    assert address.topology == "sentinel" and address.is_sentinel
    assert address.nodes == (("s1", 26380), ("s2", 26379))  # the sentinels' default port
    assert (address.master_name, address.db, address.password) == ("mymaster", 3, "pw")
    assert parse_redis_url("redis-sentinel://s1/m").db == 0
    assert parse_redis_url("rediss+sentinel://s1/m/1").ssl


def test_feast_is_told_the_same_cluster_and_sentinel() -> None:
    cluster = parse_redis_url("rediss+cluster://:p@a:1,b:2/0?ssl_ca_certs=/ca.pem")
    settings = cluster.feast_online_settings()
    assert settings["redis_type"] == "redis_cluster"
    nodes, params = RedisOnlineStore._parse_connection_string(settings["connection_string"])
    assert nodes == [{"host": "a", "port": "1"}, {"host": "b", "port": "2"}]
    assert params == {"password": "p", "ssl": True, "ssl_ca_certs": "/ca.pem"}  # no db
    sentinel = parse_redis_url("redis+sentinel://s1:5,s2:6/primary/2").feast_online_settings()
    assert (sentinel["redis_type"], sentinel["sentinel_master"]) == ("redis_sentinel", "primary")
    nodes, params = RedisOnlineStore._parse_connection_string(sentinel["connection_string"])
    assert nodes == [{"host": "s1", "port": "5"}, {"host": "s2", "port": "6"}]
    assert params == {"db": 2}
    single = parse_redis_url("redis://h:1/4").feast_online_settings()
    assert single == {"connection_string": "h:1,db=4", "redis_type": "redis"}


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("redis+cluster://:s3cretpw@a:1/2", "a Redis Cluster has only database 0, got 2"),
        ("redis+cluster://:s3cretpw@a:1/x", "the database must be a number, got 'x'"),
        ("redis+cluster://:s3cretpw@a:1,,b:2/0", "'' is not a host:port"),
        ("redis+cluster://:s3cretpw@a:port/0", "'a:port' is not a host:port"),
        ("redis+cluster://:s3cretpw@a:99999/0", "'a:99999' is not a host:port"),
        ("redis+cluster://:s3cretpw@/0", "'' is not a host:port"),
        ("redis+cluster://:s3cretpw@a:1/0?ssl_ca_certs=/c", "TLS options need rediss+cluster://"),
        ("rediss+cluster://:s3cretpw@a:1/0?colour=red", "unknown options ['colour']"),
        ("redis+sentinel://:s3cretpw@s:1", "it needs the master's name"),
        ("redis+sentinel://:s3cretpw@s:1/m/x", "the database must be a number, got 'x'"),
        ("redis+sentinel://:s3cretpw@s:1/m/0/9", "unexpected path '/m/0/9'"),
        ("redis://:s3cretpw@a:1,b:2/0", "several hosts need redis+cluster:// or redis+sentinel://"),
        ("redis+clusterz://:s3cretpw@a:1/0", "must look like redis://host:port/db, redis+cluster"),
    ],
)
def test_a_bad_url_is_one_config_error_line(url: str, problem: str) -> None:
    with pytest.raises(ConfigError) as error:
        parse_redis_url(url)
    message = str(error.value)
    assert problem in message
    assert "\n" not in message
    assert "s3cretpw" not in message and "***" in message


def test_the_project_takes_a_cluster_url_from_the_environment() -> None:
    url = "redis+cluster://127.0.0.1:7000,127.0.0.1:7001/0"
    project = Project.find(environ={"FEATURESTORE_REDIS_URL": url}, cwd=ROOT)
    assert project.redis_url == url
    with pytest.raises(ConfigError, match="only database 0"):
        Project.find(environ={"FEATURESTORE_REDIS_URL": url[:-1] + "3"}, cwd=ROOT)


def test_the_local_redis_commands_refuse_a_cluster() -> None:
    from featurestore.cli.redis_cmd import local_redis

    url = "redis+cluster://127.0.0.1:7000/0"
    project = Project.find(environ={"FEATURESTORE_REDIS_URL": url}, cwd=ROOT)
    with pytest.raises(ConfigError, match="names a Redis Cluster; the local Redis commands"):
        local_redis(project)

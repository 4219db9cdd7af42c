"""docker-compose.cluster.yml, checked as data (no Docker engine on CI).

Three KRaft brokers that are also the controller quorum, replication 3 with two in sync;
ClickHouse 2 shards x 2 replicas, each node with its own macros and all of them in the cluster
config, coordinated by three Keeper nodes; the apps reach ClickHouse in cluster mode with
every node as a fail-over host, and every ``CONSENTSTREAM_*`` name is a real setting.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import yaml

from tests.unit.test_compose import (
    DUMMY,
    PREFIX,
    SETTINGS,
    environment,
    image_environment,
    interpolate,
)

ROOT = Path(__file__).resolve().parents[2]
NODES = ("clickhouse-1-1", "clickhouse-1-2", "clickhouse-2-1", "clickhouse-2-2")


@pytest.fixture(name="cluster", scope="module")
def cluster_fixture() -> dict[str, Any]:
    data = yaml.safe_load((ROOT / "docker-compose.cluster.yml").read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def test_three_brokers_form_the_quorum_and_keep_three_copies(cluster: dict[str, Any]) -> None:
    brokers = [cluster["services"][f"kafka-{n}"] for n in (1, 2, 3)]
    ids = {environment(b)["KAFKA_NODE_ID"] for b in brokers}
    assert ids == {"1", "2", "3"}
    for broker in brokers:
        env = environment(broker)
        assert env["KAFKA_CONTROLLER_QUORUM_VOTERS"].count("@kafka-") == 3
        assert env["KAFKA_DEFAULT_REPLICATION_FACTOR"] == "3"
        assert env["KAFKA_MIN_INSYNC_REPLICAS"] == "2"
        assert env["KAFKA_UNCLEAN_LEADER_ELECTION_ENABLE"] == "false"


def test_clickhouse_is_two_shards_of_two_replicas_with_keeper(cluster: dict[str, Any]) -> None:
    remote = cluster["configs"]["clickhouse-cluster"]["content"]
    assert re.findall(r"<host>(clickhouse-\d-\d)</host>", remote) == list(NODES)
    assert remote.count("<shard>") == 2 and remote.count("<node><host>keeper-") == 3
    for node in NODES:
        shard, replica = node.split("-")[1:]
        macros = cluster["configs"][f"clickhouse-macros-{shard}-{replica}"]["content"]
        assert f"<shard>0{shard}</shard>" in macros and f"<replica>{node}</replica>" in macros
        sources = {c["source"] for c in cluster["services"][node]["configs"]}
        assert sources == {"clickhouse-cluster", f"clickhouse-macros-{shard}-{replica}"}
    raft = [cluster["configs"][f"keeper-{n}"]["content"] for n in (1, 2, 3)]
    assert [re.search(r"<server_id>(\d)</server_id>", r).group(1) for r in raft] == ["1", "2", "3"]  # type: ignore[union-attr]


@pytest.mark.parametrize("name", ["worker", "api"])
def test_apps_use_cluster_mode_with_every_node(cluster: dict[str, Any], name: str) -> None:
    url = environment(cluster["services"][name])["CONSENTSTREAM_CLICKHOUSE_URL"]
    parts = urlsplit(re.sub(r"\$\{[^}]*\}", "secret", url))
    options = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    assert options["cluster"] == "consentstream"
    hosts = [str(parts.hostname), *(h.split(":")[0] for h in options["alt_hosts"].split(","))]
    assert sorted(hosts) == sorted(NODES)


@pytest.mark.parametrize("name", sorted(SETTINGS))
def test_every_consentstream_name_is_a_setting(cluster: dict[str, Any], name: str) -> None:
    fields = {f"{PREFIX}{field.upper()}" for field in SETTINGS[name].model_fields}
    names = environment(cluster["services"][name])
    assert not sorted(k for k in names if k.startswith(PREFIX) and k not in fields)


REDIS_NODES = ("redis-cluster-1", "redis-cluster-2", "redis-cluster-3")
APPS = ("collector", "worker", "api")


def flags(command: list[str]) -> dict[str, str]:
    """``--name value`` pairs of a redis-server command line."""
    return dict(zip(command[1::2], command[2::2], strict=True))


def test_redis_is_a_cluster_of_three_persistent_masters(cluster: dict[str, Any]) -> None:
    for node in REDIS_NODES:
        service = cluster["services"][node]
        command = flags(service["command"])
        assert service["command"][0] == "redis-server"
        assert command["--cluster-enabled"] == "yes"
        assert command["--cluster-config-file"].startswith("/data/")  # on the volume
        assert command["--cluster-announce-hostname"] == node
        assert command["--cluster-preferred-endpoint-type"] == "hostname"
        assert command["--appendonly"] == "yes" and command["--maxmemory-policy"] == "noeviction"
        assert [v.split(":")[1] for v in service["volumes"]] == ["/data"]
        assert "healthcheck" in service


def test_a_one_shot_service_joins_the_three_masters_once(cluster: dict[str, Any]) -> None:
    init = cluster["services"]["redis-cluster-init"]
    assert init["restart"] == "no"
    assert set(init["depends_on"]) == set(REDIS_NODES)
    assert {d["condition"] for d in init["depends_on"].values()} == {"service_healthy"}
    script = init["command"][-1]
    assert "redis-cli --cluster create" in script and "--cluster-replicas 0" in script
    assert "--cluster-yes" in script and "cluster_slots_assigned:16384" in script
    assert "for n in 1 2 3" in script and "redis-cluster-$$n" in script


@pytest.mark.parametrize("name", APPS)
def test_apps_use_the_redis_cluster_and_a_plain_redis_for_locks(
    cluster: dict[str, Any], name: str
) -> None:
    service = cluster["services"][name]
    env = environment(service)
    assert env[f"{PREFIX}REDIS_CLUSTER"] == "true"
    assert urlsplit(env[f"{PREFIX}REDIS_URL"]).hostname in REDIS_NODES
    locks = urlsplit(env[f"{PREFIX}REDIS_LOCK_URL"]).hostname
    assert locks == "redis-locks"
    assert "--cluster-enabled" not in cluster["services"][locks]["command"]
    settings = SETTINGS[name]
    assert {f"{PREFIX}REDIS_CLUSTER", f"{PREFIX}REDIS_LOCK_URL"} <= {
        f"{PREFIX}{field.upper()}" for field in settings.model_fields
    }
    depends = service["depends_on"]
    assert depends["redis-cluster-init"]["condition"] == "service_completed_successfully"
    assert depends["redis-locks"]["condition"] == "service_healthy"


@pytest.mark.parametrize("name", APPS)
def test_the_cluster_environment_builds_settings_with_locks_apart(
    cluster: dict[str, Any], name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for key in [k for k in os.environ if k.startswith(PREFIX)]:
        monkeypatch.delenv(key)
    env = {**image_environment(), **environment(cluster["services"][name])}
    for key, value in env.items():
        monkeypatch.setenv(key, interpolate(value, DUMMY))
    settings = SETTINGS[name]()
    assert settings.redis_cluster and settings.environment == "production"
    assert settings.redis_url_for_locks == "redis://redis-locks:6379/0"


def test_every_dependency_and_volume_exists(cluster: dict[str, Any]) -> None:
    services = cluster["services"]
    for name, service in services.items():
        assert set(service.get("depends_on") or ()) <= set(services), name
        for volume in service.get("volumes") or ():
            assert volume.split(":")[0] in cluster["volumes"], (name, volume)
    assert "redis" not in services, "no single Redis left holding the state"

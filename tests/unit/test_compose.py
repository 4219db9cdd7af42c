"""The production docker-compose.yml and Dockerfile agree with the code they deploy.

There is no Docker engine on CI, so the compose file is checked as data: the services exist,
only the collector and API are published, the in-network addresses use the documented ports,
every ``CONSENTSTREAM_*`` name is a real setting of the service it is set on, secrets have no
defaults, and the environment each app service gets builds its settings object in production.
"""

from __future__ import annotations

import difflib
import os
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml
from pydantic import SecretStr

from consentstream.settings import CommonSettings
from services.api.config import ApiSettings
from services.collector.config import CollectorSettings
from streams.config import WorkerSettings

ROOT = Path(__file__).resolve().parents[2]
PREFIX = "CONSENTSTREAM_"
SETTINGS: dict[str, type[CommonSettings]] = {
    "collector": CollectorSettings,
    "worker": WorkerSettings,
    "api": ApiSettings,
}
COMMANDS = {
    "collector": ["python", "-m", "services.collector"],
    "worker": ["python", "-m", "streams"],
    "api": ["python", "-m", "services.api"],
}
INFRA = ("kafka", "redis", "clickhouse")
# ${NAME}, ${NAME:-default}, ${NAME-default}, ${NAME:?message}, ${NAME?message}
VARIABLE = re.compile(r"\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}")
SECRET_WORDS = ("KEY", "PASSWORD", "SECRET", "TOKEN")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data = yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = compose["services"]
    return found


def environment(service: dict[str, Any]) -> dict[str, str]:
    """A service's environment as compose passes it (map or list form), values as strings."""
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) if "=" in item else (item, "") for item in env)
    return {str(k): "" if v is None else str(v) for k, v in env.items()}


def interpolate(value: str, variables: dict[str, str]) -> str:
    """Substitute ``${...}`` the way compose does, from ``variables`` (all must be known)."""

    def one(match: re.Match[str]) -> str:
        name, op, arg = match["name"], match["op"], match["arg"]
        if name in variables:
            return variables[name]
        if op in (":-", "-"):
            return arg or ""
        raise AssertionError(f"${{{name}}} is not set and has no default")

    return VARIABLE.sub(one, value)


def image_environment() -> dict[str, str]:
    """``ENV`` settings baked into the Dockerfile's final image."""
    text = (ROOT / "Dockerfile").read_text(encoding="utf-8").replace("\\\n", " ")
    final = text.rsplit("\nFROM ", 1)[-1]
    env: dict[str, str] = {}
    for line in final.splitlines():
        if line.startswith("ENV "):
            env.update(re.findall(r"([A-Z0-9_]+)=(\S+)", line))
    return env


def published(service: dict[str, Any]) -> set[tuple[int, int]]:
    """(host port, container port) pairs, from short or long port syntax."""
    pairs = set()
    for port in service.get("ports", []):
        if isinstance(port, dict):
            pairs.add((int(port["published"]), int(port["target"])))
            continue
        *_, host, target = str(port).split(":")
        pairs.add((int(host), int(target.split("/")[0])))
    return pairs


def test_every_service_exists(services: dict[str, dict[str, Any]]) -> None:
    assert set(services) >= {*INFRA, *SETTINGS}


def test_only_collector_and_api_are_published(services: dict[str, dict[str, Any]]) -> None:
    assert published(services["collector"]) == {(8080, 8080)}
    assert published(services["api"]) == {(8081, 8081)}
    for name in (*INFRA, "worker"):
        assert published(services[name]) == set(), f"{name} must stay on the compose network"


def test_app_services_listen_where_they_are_published(
    services: dict[str, dict[str, Any]],
) -> None:
    collector, api = environment(services["collector"]), environment(services["api"])
    assert collector[f"{PREFIX}COLLECTOR_HOST"] == "0.0.0.0"
    assert collector.get(f"{PREFIX}COLLECTOR_PORT", "8080") == "8080"
    assert api[f"{PREFIX}API_HOST"] == "0.0.0.0"
    assert api.get(f"{PREFIX}API_PORT", "8081") == "8081"


@pytest.mark.parametrize("name", sorted(SETTINGS))
def test_in_network_addresses_use_the_documented_ports(
    services: dict[str, dict[str, Any]], name: str
) -> None:
    env = {k: interpolate(v, DUMMY) for k, v in environment(services[name]).items()}
    for server in env[f"{PREFIX}KAFKA_BOOTSTRAP"].split(","):
        assert server.strip() == "kafka:9092"
    redis = urlsplit(env[f"{PREFIX}REDIS_URL"])
    assert (redis.scheme, redis.hostname, redis.port) == ("redis", "redis", 6379)
    if f"{PREFIX}CLICKHOUSE_URL" in env:
        ch = urlsplit(env[f"{PREFIX}CLICKHOUSE_URL"])
        assert (ch.scheme, ch.hostname, ch.port) == ("clickhouse", "clickhouse", 9000)


def test_collector_holds_no_clickhouse_credentials(services: dict[str, dict[str, Any]]) -> None:
    assert f"{PREFIX}CLICKHOUSE_URL" not in environment(services["collector"])


@pytest.mark.parametrize("name", sorted(SETTINGS))
def test_every_consentstream_name_is_a_setting_of_its_service(
    services: dict[str, dict[str, Any]], name: str
) -> None:
    fields = {f"{PREFIX}{field.upper()}" for field in SETTINGS[name].model_fields}
    names = environment(services[name])
    unknown = sorted(k for k in names if k.startswith(PREFIX) and k not in fields)
    hints = {k: difflib.get_close_matches(k, fields, n=1) for k in unknown}
    assert not unknown, (
        f"{name} sets {unknown}, which {SETTINGS[name].__name__} does not read "
        f"(closest settings: {hints}); a misspelt setting is silently ignored"
    )


def test_infrastructure_gets_no_consentstream_settings(
    services: dict[str, dict[str, Any]],
) -> None:
    for name in INFRA:
        assert not [k for k in environment(services[name]) if k.startswith(PREFIX)], name


def test_image_environment_names_are_settings() -> None:
    fields = {f"{PREFIX}{f.upper()}" for cls in SETTINGS.values() for f in cls.model_fields}
    names = {k for k in image_environment() if k.startswith(PREFIX)}
    assert names, "the image should point the collector at the snippet and demo site"
    assert names <= fields, f"Dockerfile ENV names that are no setting: {sorted(names - fields)}"


def test_every_service_has_a_healthcheck(services: dict[str, dict[str, Any]]) -> None:
    for name, service in services.items():
        check = service.get("healthcheck") or {}
        assert check.get("test") and not check.get("disable"), f"{name} has no healthcheck"


def test_collector_and_api_healthchecks_probe_healthz(
    services: dict[str, dict[str, Any]],
) -> None:
    for name, port in (("collector", 8080), ("api", 8081)):
        test = " ".join(services[name]["healthcheck"]["test"])
        assert f"127.0.0.1:{port}/healthz" in test, name


def test_dependencies_wait_for_health(services: dict[str, dict[str, Any]]) -> None:
    for name in SETTINGS:
        depends = services[name]["depends_on"]
        assert isinstance(depends, dict), f"{name}: depends_on needs conditions"
        assert {"kafka", "redis"} <= set(depends), name
        for target, rule in depends.items():
            assert rule == {"condition": "service_healthy"}, f"{name} -> {target}"
    assert "clickhouse" in services["worker"]["depends_on"]
    assert "clickhouse" in services["api"]["depends_on"]


def test_app_services_share_one_build_and_run_their_deployable(
    services: dict[str, dict[str, Any]],
) -> None:
    builds = {name: services[name].get("build") for name in SETTINGS}
    assert builds["collector"], "the app services are built from the Dockerfile"
    assert len({yaml.safe_dump(b, sort_keys=True) for b in builds.values()}) == 1, builds
    build = builds["collector"]
    context = build if isinstance(build, str) else build.get("context", ".")
    dockerfile = "Dockerfile" if isinstance(build, str) else build.get("dockerfile", "Dockerfile")
    assert (ROOT / context / dockerfile).is_file()
    for name, command in COMMANDS.items():
        assert services[name]["command"] == command, name


def test_image_is_slim_python_311_and_not_root() -> None:
    text = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    stages = re.findall(r"^FROM (\S+)", text, flags=re.MULTILINE)
    # node only builds the snippet in its own stage; what runs is the slim Python image.
    assert stages and stages[-1] == "python:3.11-slim", stages
    assert set(stages) <= {"python:3.11-slim", "node:20-slim"}, stages
    users = re.findall(r"^USER (\S+)", text, flags=re.MULTILINE)
    assert users and users[-1] not in ("root", "0"), users


def test_image_serves_the_snippet_built_from_the_lockfile() -> None:
    text = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    served = image_environment()["CONSENTSTREAM_SNIPPET_PATH"]
    assert "RUN npm ci" in text, "the snippet is built from web-snippet/package-lock.json"
    assert f"COPY --from=snippet /src/web-snippet/dist/snippet.js {served}\n" in text


def references(value: str) -> list[re.Match[str]]:
    return list(VARIABLE.finditer(value))


@pytest.mark.parametrize("name", sorted(SETTINGS))
def test_secret_settings_are_required_not_defaulted(
    services: dict[str, dict[str, Any]], name: str
) -> None:
    env = environment(services[name])
    secrets = [f for f, info in SETTINGS[name].model_fields.items() if info.annotation is SecretStr]
    assert secrets, f"{SETTINGS[name].__name__} has secrets to supply"
    for field in secrets:
        value = env.get(f"{PREFIX}{field.upper()}")
        assert value is not None, f"{name} does not set the secret {field}"
        refs = references(value)
        assert len(refs) == 1 and refs[0].group(0) == value, f"{name}.{field}: {value!r}"
        assert refs[0]["op"] == ":?", f"{name}.{field} must be ${{NAME:?message}}, not defaulted"


def test_every_secret_variable_is_required(services: dict[str, dict[str, Any]]) -> None:
    for name, service in services.items():
        for key, value in environment(service).items():
            for ref in references(value):
                if any(word in ref["name"] for word in SECRET_WORDS):
                    assert ref["op"] == ":?", f"{name}.{key} defaults {ref['name']}"
            if any(word in key for word in SECRET_WORDS) and not references(value):
                pytest.fail(f"{name}.{key} is a literal secret in the compose file")


# Values an operator would export; they stand in for the `:?` variables.
DUMMY = {
    "CONSENTSTREAM_PSEUDONYM_KEY": "pseudonym-key-for-tests-only-0123456789abcdef",
    "CONSENTSTREAM_RECEIPT_KEY": "receipt-key-for-tests-only-0123456789abcdef",
    "CONSENTSTREAM_AUDIT_KEY": "audit-key-for-tests-only-0123456789abcdef",
    "CONSENTSTREAM_MASTER_KEY": "master-key-for-tests-only-0123456789abcdef",
    "CONSENTSTREAM_RECEIPT_SIGNING_KEY": "receipt-signing-key-for-tests-only-0123456789",
    "CLICKHOUSE_PASSWORD": "clickhouse-password-for-tests-only",
    "CONSENTSTREAM_POLICY_VERSION": "2026-01",
    "CONSENTSTREAM_POLICY_HASH": "0" * 64,
    "CONSENTSTREAM_CORS_ORIGINS": '["https://www.example.com"]',
    "CONSENTSTREAM_PUBLIC_URL": "https://collect.example.com",
    "CONSENTSTREAM_ALLOWED_HOSTS": '["127.0.0.1"]',
    "CONSENTSTREAM_API_ALLOWED_HOSTS": '["api.example.com", "127.0.0.1"]',
}


@pytest.mark.parametrize("name", sorted(SETTINGS))
def test_compose_environment_builds_production_settings(
    services: dict[str, dict[str, Any]], name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for key in [k for k in os.environ if k.startswith(PREFIX)]:
        monkeypatch.delenv(key)
    env = {**image_environment(), **environment(services[name])}
    for key, value in env.items():
        monkeypatch.setenv(key, interpolate(value, DUMMY))
    settings = SETTINGS[name]()
    assert settings.environment == "production"
    secrets = [v for v in vars(settings).values() if isinstance(v, SecretStr)]
    assert all(s.get_secret_value() in DUMMY.values() for s in secrets)


def test_image_ships_every_data_file_a_setting_points_to() -> None:
    """A path setting baked into the image must name a file the image copies in."""
    text = (ROOT / "Dockerfile").read_text()
    copies = [line.split()[1:] for line in text.splitlines() if line.startswith("COPY ")]
    settings = re.findall(r"(CONSENTSTREAM_\w+_PATH)=(/app/\S+)", text)
    assert settings, "no path settings found: the test reads the Dockerfile wrongly"
    for name, path in settings:
        folder, _, file = path.rpartition("/")
        shipped = any(
            args[-1] in (path, folder + "/") and any(a.endswith(file) for a in args[:-1])
            for args in copies
        )
        assert shipped, f"{name} points to {path}, which the Dockerfile never copies"

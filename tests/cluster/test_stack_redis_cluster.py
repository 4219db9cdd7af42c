"""``consentstream up --cluster`` starts a local 3-master Redis Cluster and says how to use it.

The CLI runs as a user runs it (in this process), on a stack folder and ports of its own (never
the shared stack),
starting only the three Redis Cluster masters: ``up`` joins them and prints the settings,
``status`` shows the cluster ok, the printed settings reach a working cluster through the
product's own client factory, ``down`` stops the nodes, and starting them again finds the
cluster from the nodes' files, with the data kept.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from rich.console import Console
from typer.testing import CliRunner, Result

from consentstream import redis_client, redis_keys
from consentstream.settings import CommonSettings
from ops import cli as ops_cli
from ops import stack
from ops.stack import redis_cluster, secrets
from tests.cluster.conftest import free_port_block

pytestmark = pytest.mark.cluster
NODES = [f"redis-cluster-{n}" for n in range(1, redis_cluster.MASTERS + 1)]


def cli(env: dict[str, str | None], *args: str) -> Result:
    """``consentstream ARGS`` in this process, with ``env`` for the run only."""
    return CliRunner().invoke(ops_cli.app, list(args), env=env)


def printed_settings(output: str) -> dict[str, str]:
    """The ``NAME='value'`` lines ``up --cluster`` prints."""
    return dict(re.findall(r"^(CONSENTSTREAM_\w+)='([^']*)'$", output, re.MULTILINE))


def test_up_cluster_starts_joins_and_prints_a_redis_cluster(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The CLI's console took its width when first imported: wide enough for whole rows.
    monkeypatch.setattr(ops_cli, "console", Console(width=250))
    first = free_port_block(redis_cluster.MASTERS, also=redis_cluster.BUS_OFFSET)
    env: dict[str, str | None] = {
        # `up` makes the stack's keys and every command exports them where unset: named here,
        # they are put back as they were after each run instead of leaking into later tests.
        **{name: os.environ.get(name) for name in secrets.KEYS},
        "CONSENTSTREAM_STACK_DIR": str(tmp_path / "stack"),
        "CONSENTSTREAM_REDIS_CLUSTER_PORT": str(first),
    }
    stack_settings = stack.StackSettings(stack_dir=tmp_path / "stack", redis_cluster_port=first)
    try:
        up = cli(env, "up", "--cluster", *NODES)
        assert up.exit_code == 0, up.output
        chosen = printed_settings(up.output)
        assert chosen["CONSENTSTREAM_REDIS_URL"] == f"redis://127.0.0.1:{first}/0"
        assert chosen["CONSENTSTREAM_REDIS_CLUSTER"] == "true"
        assert chosen["CONSENTSTREAM_REDIS_LOCK_URL"] == "redis://127.0.0.1:6379/0"
        status = cli(env, "status", "--cluster")
        rows = [line for line in status.output.splitlines() if "redis-cluster-" in line]
        assert len(rows) == 3 and all("running" in r and "cluster ok, 3 nodes" in r for r in rows)

        settings = CommonSettings(
            redis_cluster=True,
            redis_url=chosen["CONSENTSTREAM_REDIS_URL"],
            redis_lock_url=chosen["CONSENTSTREAM_REDIS_LOCK_URL"],
        )
        client = redis_client.sync_client(settings)
        subjects = [f"{n:032x}" for n in range(12)]  # spread over the three masters' slots
        for subject in subjects:
            client.set(redis_keys.suppressed(subject), b"1")
        client.close()

        down = cli(env, "down", "--cluster", *NODES)
        assert down.exit_code == 0 and down.output.count("stopped") >= 3, down.output
        assert not redis_cluster.cluster_info(stack_settings, first), "the nodes are down"
        stack.up(NODES, settings=stack_settings, cluster=True)  # as a second `up --cluster`
        client = redis_client.sync_client(settings)
        kept = [client.exists(redis_keys.suppressed(subject)) for subject in subjects]
        client.close()
        assert kept == [1] * len(subjects), "the cluster came back with its data (AOF)"
    finally:
        stack.down(NODES, settings=stack_settings, cluster=True)

"""How each service of the local stack is started: argv, environment, config files, log, signals."""

from __future__ import annotations

import json
import os
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from harness.paths import fixtures_dir, repo_root
from harness.stack import postgres as pg
from harness.stack.base import Service
from harness.stack.config_render import (
    AlertmanagerConfig,
    PrometheusConfig,
    render_alertmanager_config,
    render_prometheus_config,
)
from harness.stack.procs import ProcessSpec
from harness.stack.supervisor import supervisor_command

if TYPE_CHECKING:
    from harness.stack.local import LocalStack

LOOPBACK = "127.0.0.1"


def postgres_spec(stack: LocalStack, binary: str) -> ProcessSpec:
    layout = stack.pg_layout()
    return ProcessSpec(
        name="postgres",
        argv=pg.server_argv(binary, layout, LOOPBACK, stack.port("postgres")),
        log_path=stack.log_path(Service.POSTGRES),
        user=layout.os_user,
        stop_signal=signal.SIGINT,  # fast shutdown: do not wait for clients
        death_signal=signal.SIGINT,
    )


def redis_spec(stack: LocalStack, binary: str) -> ProcessSpec:
    return ProcessSpec(
        name="redis",
        argv=[
            binary,
            "--port",
            str(stack.port("redis")),
            "--bind",
            LOOPBACK,
            "--save",
            "",
            "--appendonly",
            "no",
            "--protected-mode",
            "yes",
            "--daemonize",
            "no",
            "--dir",
            str(stack.run_dir),
        ],
        log_path=stack.log_path(Service.REDIS),
    )


def proxy_spec(stack: LocalStack) -> ProcessSpec:
    routes = [
        ("target", "http", "target"),
        ("redis", "tcp", "redis"),
        ("postgres", "tcp", "postgres"),
    ]
    config = {
        "admin": {"host": LOOPBACK, "port": stack.port("fault_proxy")},
        "routes": [
            {
                "name": name,
                "mode": mode,
                "listen": {"host": LOOPBACK, "port": stack.port(f"proxy_{name}")},
                "upstream": {"host": LOOPBACK, "port": stack.port(upstream)},
            }
            for name, mode, upstream in routes
        ],
    }
    path = stack.run_dir / "proxy.json"
    path.write_text(json.dumps(config, indent=2))
    return ProcessSpec(
        name="fault_proxy",
        argv=[sys.executable, "-m", "harness.faults.proxy", "--config", str(path)],
        log_path=stack.log_path(Service.FAULT_PROXY),
        env=python_env(),
    )


def target_spec(stack: LocalStack) -> ProcessSpec:
    redis_ep = stack.endpoint(Service.REDIS)
    pg_ep = stack.endpoint(Service.POSTGRES)
    c = stack.credentials
    env = python_env(extra_path=fixtures_dir() / "target")
    env.update(
        DEMO_HOST=LOOPBACK,
        DEMO_PORT=str(stack.port("target")),
        DEMO_DATABASE_URL=(
            f"postgresql://{c.postgres_user}:{c.postgres_password}@{pg_ep.host}:{pg_ep.port}/{c.postgres_db}"
        ),
        DEMO_REDIS_URL=f"redis://{redis_ep.host}:{redis_ep.port}/0",
        DEMO_ADMIN_TOKEN=c.admin_token,
        DEMO_STATE_FILE=str(stack.run_dir / "target-state.json"),
        DEMO_RATE_LIMIT_RPS=str(stack.settings.target_rate_limit_rps),
    )
    argv = supervisor_command(
        "target",
        stack.supervisor_status_file(),
        stack.settings.target_memory_limit_mb,
        [sys.executable, "-m", "demo_target"],
    )
    return ProcessSpec(name="target", argv=argv, log_path=stack.log_path(Service.TARGET), env=env)


def alertmanager_spec(stack: LocalStack, binary: str) -> ProcessSpec:
    token_file = stack.run_dir / "receiver-token"
    token_file.write_text(stack.credentials.receiver_token)
    token_file.chmod(0o600)
    assert stack.receiver is not None
    config = AlertmanagerConfig(
        receiver_url=f"{stack.receiver.endpoint.url}/alertmanager",
        credentials_file=str(token_file),
        group_wait_s=stack.settings.group_wait_s,
        group_interval_s=stack.settings.group_interval_s,
        repeat_interval_s=stack.settings.repeat_interval_s,
        resolve_timeout_s=stack.settings.resolve_timeout_s,
    )
    path = stack.run_dir / "alertmanager.yml"
    path.write_text(render_alertmanager_config(config))
    port = stack.port("alertmanager")
    return ProcessSpec(
        name="alertmanager",
        argv=[
            binary,
            f"--config.file={path}",
            f"--storage.path={stack.run_dir / 'alertmanager-data'}",
            f"--web.listen-address={LOOPBACK}:{port}",
            "--cluster.listen-address=",
            f"--web.external-url=http://{LOOPBACK}:{port}/",
        ],
        log_path=stack.log_path(Service.ALERTMANAGER),
    )


def prometheus_spec(stack: LocalStack, binary: str) -> ProcessSpec:
    config = PrometheusConfig(
        scrape_interval_s=stack.settings.scrape_interval_s,
        evaluation_interval_s=stack.settings.evaluation_interval_s,
        target_address=stack.direct_endpoint(Service.TARGET).address,
        alertmanager_address=stack.direct_endpoint(Service.ALERTMANAGER).address,
        rule_files=[str(p) for p in stack.settings.rule_files],
        ingress_address=(
            stack.direct_endpoint(Service.FAULT_PROXY).address if stack.settings.with_proxy else None
        ),
        external_labels={"harness_run": stack.run_dir.name},
    )
    path = stack.run_dir / "prometheus.yml"
    path.write_text(render_prometheus_config(config))
    port = stack.port("prometheus")
    return ProcessSpec(
        name="prometheus",
        argv=[
            binary,
            f"--config.file={path}",
            f"--storage.tsdb.path={stack.run_dir / 'prometheus-data'}",
            f"--web.listen-address={LOOPBACK}:{port}",
            "--web.enable-lifecycle",
            "--storage.tsdb.retention.time=1d",
            f"--web.external-url=http://{LOOPBACK}:{port}/",
        ],
        log_path=stack.log_path(Service.PROMETHEUS),
    )


def python_env(extra_path: Path | None = None) -> dict[str, str]:
    env = dict(os.environ)
    paths = [str(repo_root())] + ([str(extra_path)] if extra_path else [])
    if env.get("PYTHONPATH"):
        paths.append(env["PYTHONPATH"])
    env["PYTHONPATH"] = os.pathsep.join(paths)
    env["PYTHONUNBUFFERED"] = "1"
    return env

"""docker-compose.yml checked without an engine: structure, mounts, healthchecks, ports, rules."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from compose_model import (
    COMPOSE_FILE,
    MissingVariable,
    load_compose,
    raw_compose,
    resolve_source,
    volume_parts,
)

from harness.errors import BackendUnavailable
from harness.faults.proxy_routes import load_config
from harness.paths import fixtures_dir, repo_root
from harness.stack.base import Service
from harness.stack.compose_cli import find_compose_command
from harness.stack.config_render import (
    ALERTMANAGER_TEMPLATE,
    RULES_DIR,
    AlertmanagerConfig,
    render_alertmanager_config,
)
from harness.stack.docker_layout import (
    COMPOSE_SERVICES,
    CONTAINER_RULES_DIR,
    CONTAINER_TOKEN_FILE,
    DIRECT_PORTS,
    POD,
    PORT_VARIABLES,
    PUBLISHED_PORTS,
)

ENV = {
    "DRILL_ADMIN_TOKEN": "admin-token",
    "DRILL_POSTGRES_PASSWORD": "pg-password",
    "DRILL_GRAFANA_PASSWORD": "grafana-password",
}


@pytest.fixture
def compose(tmp_path: Path) -> dict[str, Any]:
    return load_compose({**ENV, "DRILL_CONFIG_DIR": str(tmp_path / "cfg")})


def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    result = compose["services"]
    assert isinstance(result, dict)
    return result


def test_services_are_the_stack_plus_the_pod(compose: dict[str, Any]) -> None:
    assert set(services(compose)) == {POD, *COMPOSE_SERVICES.values()}


def test_every_service_has_a_healthcheck(compose: dict[str, Any]) -> None:
    for name, service in services(compose).items():
        check = service.get("healthcheck")
        assert check, f"{name} has no healthcheck"
        assert not check.get("disable", False), name
        test = check["test"]
        assert isinstance(test, list) and test[0] in ("CMD", "CMD-SHELL") and len(test) > 1, name
        assert check.get("interval") and check.get("retries"), name


def test_ports_are_published_on_loopback_only(compose: dict[str, Any]) -> None:
    published = 0
    for name, service in services(compose).items():
        for port in service.get("ports", []):
            assert isinstance(port, str) and port.startswith("127.0.0.1:"), f"{name}: {port!r}"
            published += 1
        if service.get("network_mode") == f"service:{POD}":
            assert "ports" not in service, f"{name} joins the pod; only the pod publishes"
    assert published == len(PORT_VARIABLES)
    assert "0.0.0.0" not in "".join(p for s in services(compose).values() for p in s.get("ports", []))


def test_pod_publishes_every_port_the_stack_resolves(compose: dict[str, Any]) -> None:
    container_ports = {int(p.rsplit(":", 1)[1]) for p in services(compose)[POD]["ports"]}
    assert set(PUBLISHED_PORTS.values()) | set(DIRECT_PORTS.values()) == container_ports
    text = COMPOSE_FILE.read_text()
    for variable in PORT_VARIABLES.values():
        assert "${" + variable + ":-" in text, variable


def test_every_service_but_the_pod_joins_the_pod(compose: dict[str, Any]) -> None:
    for name, service in services(compose).items():
        if name != POD:
            assert service["network_mode"] == f"service:{POD}", name
    assert "host.docker.internal:host-gateway" in services(compose)[POD]["extra_hosts"]


def test_every_mounted_path_exists_or_is_rendered(compose: dict[str, Any], tmp_path: Path) -> None:
    rendered = tmp_path / "cfg"
    named = set(compose.get("volumes", {}))
    for name, service in services(compose).items():
        for spec in service.get("volumes", []):
            source, target, _ = volume_parts(spec)
            assert target.startswith("/"), spec
            path = resolve_source(source)
            if path is None:
                assert source in named, f"{name}: undeclared named volume {source}"
            elif path.is_relative_to(rendered):
                assert path.parent == rendered and path.name in ("prometheus", "alertmanager"), spec
            else:
                assert path.exists(), f"{name} mounts {source}, which is not in the repo"
                assert path.is_relative_to(repo_root()), spec
        build = service.get("build")
        if build:
            context = resolve_source(build["context"])
            assert context is not None and context.is_dir(), name
            assert (context / build["dockerfile"]).is_file(), name


def test_rules_are_the_local_stacks_files_mounted_read_only(compose: dict[str, Any]) -> None:
    mounts = {volume_parts(v)[1]: volume_parts(v) for v in services(compose)["prometheus"]["volumes"]}
    source, _, mode = mounts[CONTAINER_RULES_DIR]
    assert resolve_source(source) == RULES_DIR.resolve()
    assert mode == "ro"
    from harness.stack.local import LocalSettings

    local_rules = LocalSettings(run_dir=Path("/nonexistent")).rule_files
    assert sorted(p.resolve() for p in local_rules) == sorted(RULES_DIR.resolve().glob("*.yml"))
    assert local_rules, "the local stack loads no rule files"


def test_alertmanager_routes_are_the_local_stacks() -> None:
    """Both backends render the one template; only the receiver address and token path differ."""
    assert ALERTMANAGER_TEMPLATE.is_file()
    local = yaml.safe_load(render_alertmanager_config(
        AlertmanagerConfig(receiver_url="http://127.0.0.1:40000", credentials_file="/run/token")))
    docker = yaml.safe_load(render_alertmanager_config(
        AlertmanagerConfig(receiver_url="http://host.docker.internal:40000",
                           credentials_file=CONTAINER_TOKEN_FILE)))
    assert local["route"] == docker["route"]
    assert local["inhibit_rules"] == docker["inhibit_rules"]
    assert local["route"]["group_by"] == ["..."]


def test_secrets_are_required_not_defaulted(tmp_path: Path) -> None:
    for missing in ENV:
        env = {k: v for k, v in ENV.items() if k != missing}
        with pytest.raises(MissingVariable, match=missing):
            load_compose(env)
    assert "admin-token" not in COMPOSE_FILE.read_text()


def test_target_is_memory_limited_and_restarted_like_kubernetes(compose: dict[str, Any]) -> None:
    target = services(compose)["target"]
    assert target["mem_limit"] == "256m" and target["memswap_limit"] == target["mem_limit"]
    assert target["restart"] == "on-failure"
    assert target["init"] is True
    env = target["environment"]
    assert env["DEMO_REDIS_URL"] == "redis://127.0.0.1:16379/0"  # through the proxy's redis route
    assert "@127.0.0.1:15432/" in env["DEMO_DATABASE_URL"]  # through the proxy's postgres route
    assert env["DEMO_ADMIN_TOKEN"] == "admin-token"
    limited = load_compose({**ENV, "DRILL_TARGET_MEMORY_LIMIT": "128m"})["services"]["target"]
    assert limited["mem_limit"] == "128m"


def test_fault_proxy_config_is_valid_and_routes_like_the_local_stack(compose: dict[str, Any]) -> None:
    mounts = [volume_parts(v) for v in services(compose)["fault-proxy"]["volumes"]]
    (source, target, mode), = mounts
    config = load_config(resolve_source(source))  # type: ignore[arg-type]
    assert target in services(compose)["fault-proxy"]["command"] and mode == "ro"
    routes = {r.name: r for r in config.routes}
    assert {n: r.mode for n, r in routes.items()} == {"target": "http", "redis": "tcp", "postgres": "tcp"}
    assert routes["target"].upstream.port == DIRECT_PORTS[Service.TARGET]
    assert routes["redis"].upstream.port == DIRECT_PORTS[Service.REDIS]
    assert routes["postgres"].upstream.port == DIRECT_PORTS[Service.POSTGRES]
    assert routes["redis"].listen.port == 16379 and routes["postgres"].listen.port == 15432
    # the pod forwards each published proxy port to the matching loopback listener
    script = (fixtures_dir() / "docker" / "pod-forward.sh").read_text()
    pairs = dict(re.findall(r"\b(\d{4,5}):(\d{4,5})\b", script.split("for pair in", 1)[1].split(";", 1)[0]))
    assert pairs == {
        str(PUBLISHED_PORTS[Service.TARGET]): str(routes["target"].listen.port),
        str(PUBLISHED_PORTS[Service.FAULT_PROXY]): str(config.admin.port),
        str(PUBLISHED_PORTS[Service.REDIS]): str(routes["redis"].listen.port),
        str(PUBLISHED_PORTS[Service.POSTGRES]): str(routes["postgres"].listen.port),
    }
    check = " ".join(services(compose)[POD]["healthcheck"]["test"])
    assert all(port in check for port in pairs)


def test_images_are_built_from_the_repo(compose: dict[str, Any]) -> None:
    dockerfile = (fixtures_dir() / "target" / "Dockerfile").read_text()
    for requirement in ("starlette", "uvicorn[standard]", "asyncpg", "redis", "prometheus-client"):
        assert f'"{requirement}' in dockerfile, requirement
    assert "COPY demo_target/" in dockerfile
    assert (fixtures_dir() / "target" / ".dockerignore").is_file()
    harness_file = fixtures_dir() / "docker" / "harness.Dockerfile"
    ignore = (fixtures_dir() / "docker" / "harness.Dockerfile.dockerignore").read_text().split()
    assert ignore[ignore.index("*") + 1] == "!harness/"  # the context is the repo root: keep .venv out
    target_dir = fixtures_dir() / "target"
    for dockerfile_path, context in ((harness_file, repo_root()), (target_dir / "Dockerfile", target_dir)):
        for line in dockerfile_path.read_text().splitlines():
            if line.startswith("COPY "):
                *sources, _ = line.split()[1:]
                for source in sources:
                    assert (context / source).exists(), f"{dockerfile_path.name}: COPY {source} is missing"
                    if context == repo_root():
                        assert f"!{source}" in ignore, f"{source} is excluded from the build context"


def test_raw_file_uses_merge_keys_only_for_restart() -> None:
    raw = raw_compose()
    assert raw["x-restart"] == {"restart": "unless-stopped"}


def _compose_cli() -> list[str] | None:
    try:
        return find_compose_command()
    except BackendUnavailable:
        return None


@pytest.mark.skipif(_compose_cli() is None, reason="neither `docker compose` nor `docker-compose` installed")
def test_compose_cli_validates_the_file(tmp_path: Path) -> None:
    command = _compose_cli()
    assert command is not None
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": str(tmp_path), **ENV,
           "DRILL_CONFIG_DIR": str(tmp_path / "cfg")}
    result = subprocess.run([*command, "-p", "chaos-drill", "-f", str(COMPOSE_FILE), "config", "-q"],
                            capture_output=True, text=True, timeout=60, env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    missing = {k: v for k, v in env.items() if k != "DRILL_ADMIN_TOKEN"}
    result = subprocess.run([*command, "-f", str(COMPOSE_FILE), "config", "-q"],
                            capture_output=True, text=True, timeout=60, env=missing, cwd=tmp_path)
    assert result.returncode != 0 and "DRILL_ADMIN_TOKEN" in result.stderr



def test_target_start_counter_feeds_demo_restart_count(tmp_path: Path) -> None:
    """The target image's CMD counts container starts in /state (DEMO_RESTART_COUNT = starts before)."""
    dockerfile = (fixtures_dir() / "target" / "Dockerfile").read_text()
    cmd = json.loads(dockerfile.split("\nCMD ", 1)[1].splitlines()[0])
    assert cmd[:2] == ["sh", "-c"] and "exec python -m demo_target" in cmd[2]
    script = cmd[2].replace("/state/", f"{tmp_path}/").replace(
        "exec python -m demo_target", "exec sh -c 'echo $DEMO_RESTART_COUNT'")
    counts = [subprocess.run(["sh", "-c", script], capture_output=True, text=True, timeout=10).stdout.strip()
              for _ in range(3)]
    assert counts == ["0", "1", "2"]


def test_pod_forward_script_parses() -> None:
    script = fixtures_dir() / "docker" / "pod-forward.sh"
    result = subprocess.run(["sh", "-n", str(script)], capture_output=True, text=True, timeout=10)
    assert result.returncode == 0, result.stderr
    assert "pod-forward.sh" in (fixtures_dir() / "docker" / "pod.Dockerfile").read_text()


@pytest.mark.integration
def test_fault_proxy_runs_with_the_docker_config(tmp_path: Path) -> None:
    """The harness's proxy accepts fixtures/docker/fault-proxy.json and serves its three routes."""
    import socket
    import sys

    import httpx

    from harness.stack.wait import HttpOk, wait_for

    config = load_config(fixtures_dir() / "docker" / "fault-proxy.json")
    for port in [config.admin.port, *(r.listen.port for r in config.routes)]:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                pytest.skip(f"127.0.0.1:{port} is in use on this machine")
    config_file = fixtures_dir() / "docker" / "fault-proxy.json"
    log = (tmp_path / "proxy.log").open("wb")
    proc = subprocess.Popen([sys.executable, "-m", "harness.faults.proxy", "--config", str(config_file)],
                            cwd=repo_root(), stdout=log, stderr=subprocess.STDOUT)
    try:
        admin = f"http://127.0.0.1:{config.admin.port}"
        wait_for(HttpOk(f"{admin}/health"), timeout=30, poll_interval=0.2)
        routes = httpx.get(f"{admin}/routes", timeout=5).json()
        listed = routes["routes"] if isinstance(routes, dict) else routes
        assert {r["name"] for r in listed} == {"target", "redis", "postgres"}
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
        log.close()

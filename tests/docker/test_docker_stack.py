"""DockerStack's logic against the recording fake docker client and compose runner."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
import yaml
from compose_model import load_compose, volume_parts
from docker.errors import DockerException
from docker_fakes import FakeCompose, FakeDockerClient, FakeReceiver, read_env

from harness.clock import FakeClock
from harness.errors import ServiceControlError, ServiceStartError, StackError, WaitTimeout
from harness.stack.base import Service, ServiceAction, ServiceStatus, StackState
from harness.stack.config_render import RULES_DIR
from harness.stack.docker import DockerSettings, DockerStack


def make_stack(
    tmp_path: Path, client: FakeDockerClient | None = None, compose: FakeCompose | None = None,
    bindable: bool = True, **settings: object,
) -> tuple[DockerStack, FakeDockerClient, FakeCompose, list[FakeReceiver]]:
    client = client or FakeDockerClient()
    compose = compose or FakeCompose(client)
    receivers: list[FakeReceiver] = []

    def receiver_factory(token: str, host: str) -> FakeReceiver:
        receivers.append(FakeReceiver(token, host))
        return receivers[-1]

    config = DockerSettings(run_dir=tmp_path / "run", http_checks=False, clock=FakeClock(),
                            ready_timeout_s=5.0, **settings)  # type: ignore[arg-type]
    stack = DockerStack(config, client=client, compose=compose, receiver_factory=receiver_factory,
                        bindable=lambda host: bindable)
    return stack, client, compose, receivers


def test_up_renders_configs_runs_compose_and_becomes_ready(tmp_path: Path) -> None:
    stack, _, compose, receivers = make_stack(tmp_path)
    stack.up()
    assert stack.state == StackState.READY
    assert [c[0] for c in compose.calls] == ["up"]
    env = compose.calls[0][1]
    assert env["DRILL_ADMIN_TOKEN"] == stack.credentials.admin_token
    assert env["DRILL_POSTGRES_PASSWORD"] == stack.credentials.postgres_password
    assert env["DRILL_GRAFANA_PASSWORD"] == stack.grafana_auth[1]
    assert env["DRILL_TARGET_MEMORY_LIMIT"] == "256m"
    cfg = Path(env["DRILL_CONFIG_DIR"])
    prom = yaml.safe_load((cfg / "prometheus" / "prometheus.yml").read_text())
    assert prom["rule_files"] == ["/etc/prometheus/rules/*.yml"]
    assert prom["scrape_configs"][0]["static_configs"][0]["targets"] == ["127.0.0.1:8080"]
    am = yaml.safe_load((cfg / "alertmanager" / "alertmanager.yml").read_text())
    webhook = am["receivers"][0]["webhook_configs"][0]
    assert webhook["url"] == f"http://host.docker.internal:{receivers[0].port}/alertmanager"
    token_path = webhook["http_config"]["authorization"]["credentials_file"]
    assert token_path == "/etc/alertmanager/config/receiver-token"
    token_file = cfg / "alertmanager" / "receiver-token"
    assert token_file.read_text() == stack.credentials.receiver_token
    for secret in (token_file, stack.env_file, stack.run_dir / "stack.json"):
        assert stat.S_IMODE(secret.stat().st_mode) == 0o600, secret
    state = json.loads((stack.run_dir / "stack.json").read_text())
    assert state["backend"] == "docker" and state["state"] == "ready"
    assert receivers[0].started and receivers[0].token == stack.credentials.receiver_token


def test_receiver_binds_the_bridge_gateway_when_local_else_loopback(tmp_path: Path) -> None:
    stack, *_, receivers = make_stack(tmp_path / "a", bindable=True)
    stack.up()
    assert receivers[0].host == "172.17.0.1"
    stack.down()
    stack2, *_, receivers2 = make_stack(tmp_path / "b", bindable=False)
    stack2.up()
    assert receivers2[0].host == "127.0.0.1"
    stack2.down()
    assert "0.0.0.0" not in (receivers[0].host, receivers2[0].host)


def test_endpoints_come_from_the_pods_published_ports(tmp_path: Path) -> None:
    stack, client, *_ = make_stack(tmp_path, host_ports={"grafana": 3999, "target": 18081})
    stack.up()
    assert stack.endpoint(Service.GRAFANA).url == "http://127.0.0.1:3999"
    assert stack.endpoint(Service.TARGET).port == 18081
    pod_ports = client.containers.by_service("pod").ports
    assert stack.direct_endpoint(Service.TARGET).port == pod_ports[8080]
    assert stack.endpoint(Service.REDIS).scheme == "redis"
    assert stack.endpoint(Service.REDIS).port == pod_ports[26379]
    assert stack.direct_endpoint(Service.POSTGRES).port == pod_ports[5432]
    assert stack.endpoint(Service.FAULT_PROXY).port == pod_ports[28474]
    assert stack.endpoint(Service.RECEIVER).host == "172.17.0.1"
    assert all(stack.endpoint(s).host == "127.0.0.1" for s in stack.services() if s != Service.RECEIVER)


def test_unknown_host_port_key_is_refused(tmp_path: Path) -> None:
    stack, *_ = make_stack(tmp_path, host_ports={"grafna": 1})
    with pytest.raises(StackError, match="unknown host port 'grafna'"):
        stack.up()
    assert stack.state == StackState.FAILED


@pytest.mark.parametrize(
    ("action", "docker_call", "status"),
    [
        (ServiceAction.STOP, "stop", ServiceStatus.STOPPED),
        (ServiceAction.KILL, "kill", ServiceStatus.STOPPED),
        (ServiceAction.PAUSE, "pause", ServiceStatus.PAUSED),
        (ServiceAction.RESTART, "restart", ServiceStatus.RUNNING),
    ],
)
def test_control_maps_to_container_calls(tmp_path: Path, action: ServiceAction, docker_call: str,
                                         status: ServiceStatus) -> None:
    stack, client, *_ = make_stack(tmp_path)
    stack.up()
    stack.control(Service.REDIS, action)
    assert (docker_call, "redis") in client.calls
    assert stack.status(Service.REDIS) == status


def test_pause_resume_stop_start_cycle(tmp_path: Path) -> None:
    stack, client, *_ = make_stack(tmp_path)
    stack.up()
    stack.control(Service.POSTGRES, ServiceAction.PAUSE)
    stack.control(Service.POSTGRES, ServiceAction.RESUME)
    assert ("unpause", "postgres") in client.calls
    assert stack.status(Service.POSTGRES) == ServiceStatus.RUNNING
    stack.control(Service.POSTGRES, ServiceAction.STOP)
    stack.control(Service.POSTGRES, ServiceAction.START)
    assert stack.status(Service.POSTGRES) == ServiceStatus.RUNNING


def test_docker_errors_become_service_control_errors(tmp_path: Path) -> None:
    stack, *_ = make_stack(tmp_path)
    stack.up()
    stack.control(Service.REDIS, ServiceAction.STOP)
    with pytest.raises(ServiceControlError, match="docker could not pause redis") as info:
        stack.control(Service.REDIS, ServiceAction.PAUSE)
    assert isinstance(info.value.__cause__, DockerException)
    with pytest.raises(ServiceControlError, match="resume"):
        stack.control(Service.PROMETHEUS, ServiceAction.RESUME)  # not paused


def test_receiver_and_missing_containers_cannot_be_controlled(tmp_path: Path) -> None:
    stack, *_ = make_stack(tmp_path)
    with pytest.raises(ServiceControlError, match="no container"):
        stack.control(Service.TARGET, ServiceAction.STOP)
    stack.up()
    with pytest.raises(ServiceControlError):
        stack.control(Service.RECEIVER, ServiceAction.KILL)


def test_killing_the_target_is_a_crash_the_restart_policy_restarts(tmp_path: Path) -> None:
    stack, client, *_ = make_stack(tmp_path)
    stack.up()
    stack.control(Service.TARGET, ServiceAction.KILL)
    assert ("exec_run", "target", ("sh", "-c", "kill -KILL -1")) in client.calls
    assert ("kill", "target") not in client.calls  # docker kill would be a manual stop: no restart
    assert stack.status(Service.TARGET) == ServiceStatus.RUNNING
    assert stack.restart_count(Service.TARGET) == 1
    assert stack.last_exit_reason(Service.TARGET) == "killed"


def test_oom_kill_is_visible_while_restarting_and_after(tmp_path: Path) -> None:
    client = FakeDockerClient(auto_restart=False)
    stack, *_ = make_stack(tmp_path, client=client)
    stack.up()
    target = client.containers.by_service("target")
    target.crash(137, oom=True)
    state = stack.container_state(Service.TARGET)
    assert state is not None and state.oom_killed and state.status == "restarting"
    assert stack.status(Service.TARGET) == ServiceStatus.STOPPED
    assert stack.last_exit_reason(Service.TARGET) == "oom_killed"
    target.come_back()  # docker clears OOMKilled on the new start; the events keep it
    assert stack.status(Service.TARGET) == ServiceStatus.RUNNING
    assert stack.container_state(Service.TARGET).oom_killed is False  # type: ignore[union-attr]
    assert stack.last_exit_reason(Service.TARGET) == "oom_killed"
    assert [e.reason for e in stack.exits(Service.TARGET)] == ["oom_killed"]
    assert stack.restart_count(Service.TARGET) == 1
    target.crash(3)
    assert [e.reason for e in stack.exits(Service.TARGET)] == ["oom_killed", "exited:3"]
    assert stack.exits(Service.REDIS) == []


def test_event_errors_are_translated(tmp_path: Path) -> None:
    client = FakeDockerClient(fail_events=DockerException("engine went away"))
    stack, *_ = make_stack(tmp_path, client=client)
    stack.up()
    with pytest.raises(StackError, match="cannot read docker events"):
        stack.exits(Service.TARGET)


def test_status_absent_before_up_and_after_down(tmp_path: Path) -> None:
    stack, *_ = make_stack(tmp_path)
    assert stack.status(Service.TARGET) == ServiceStatus.ABSENT
    stack.up()
    stack.down()
    assert stack.status(Service.TARGET) == ServiceStatus.ABSENT
    assert stack.status(Service.RECEIVER) == ServiceStatus.STOPPED


def test_down_always_runs_compose_down_and_stops_the_receiver(tmp_path: Path) -> None:
    stack, _, compose, receivers = make_stack(tmp_path)
    stack.up()
    stack.down()
    stack.down()  # idempotent
    assert [c[0] for c in compose.calls] == ["up", "down"]
    assert compose.calls[1][1]["DRILL_POSTGRES_PASSWORD"] == stack.credentials.postgres_password
    assert receivers[0].stopped
    assert stack.state == StackState.STOPPED


def test_failed_compose_up_tears_down_and_reraises(tmp_path: Path) -> None:
    client = FakeDockerClient()
    compose = FakeCompose(client, fail_up=ServiceStartError("docker compose up failed (exit 1)"))
    stack, _, _, receivers = make_stack(tmp_path, client=client, compose=compose)
    with pytest.raises(ServiceStartError):
        stack.up()
    assert stack.state == StackState.FAILED
    assert [c[0] for c in compose.calls] == ["up", "down"]
    assert receivers[0].stopped


def test_unhealthy_container_times_out_and_tears_down(tmp_path: Path) -> None:
    client = FakeDockerClient()
    compose = FakeCompose(client, unhealthy={"grafana"})
    stack, *_ = make_stack(tmp_path, client=client, compose=compose)
    with pytest.raises(WaitTimeout, match="every container running and healthy"):
        stack.up()
    assert [c[0] for c in compose.calls] == ["up", "down"]


def test_container_that_exits_during_start_fails_fast(tmp_path: Path) -> None:
    client = FakeDockerClient()
    compose = FakeCompose(client, exited={"prometheus"})
    stack, *_ = make_stack(tmp_path, client=client, compose=compose)
    with pytest.raises(ServiceStartError, match="prometheus exited with code 1"):
        stack.up()
    assert stack.clock.sleeps == []  # type: ignore[attr-defined]


def test_down_failure_is_reported_after_the_receiver_stopped(tmp_path: Path) -> None:
    client = FakeDockerClient()
    compose = FakeCompose(client, fail_down=StackError("docker compose down failed (exit 1)"))
    stack, _, _, receivers = make_stack(tmp_path, client=client, compose=compose)
    stack.up()
    with pytest.raises(StackError, match="teardown failed"):
        stack.down()
    assert receivers[0].stopped and stack.state == StackState.STOPPED


def test_rendered_config_dirs_are_the_ones_compose_mounts(tmp_path: Path) -> None:
    stack, *_ = make_stack(tmp_path)
    stack.up()
    try:
        compose_file = load_compose(read_env(stack.env_file), stack.settings.compose_file)
        for service in ("prometheus", "alertmanager"):
            sources = [volume_parts(v)[0] for v in compose_file["services"][service]["volumes"]]
            rendered = [Path(s) for s in sources if Path(s).is_relative_to(stack.config_dir)]
            assert rendered, f"{service} mounts no rendered config dir"
            for path in rendered:
                assert path.is_dir(), path
        assert (stack.config_dir / "prometheus" / "prometheus.yml").is_file()
        assert (stack.config_dir / "alertmanager" / "alertmanager.yml").is_file()
        assert sorted(RULES_DIR.glob("*.yml")), "no rule files to mount"
    finally:
        stack.down()


def test_grafana_auth_and_services(tmp_path: Path) -> None:
    stack, *_ = make_stack(tmp_path, group_wait_s=0.25)
    timing = stack.alert_timing()
    assert (timing.scrape_interval_s, timing.evaluation_interval_s, timing.group_wait_s) == (1.0, 1.0, 0.25)
    assert stack.has(Service.GRAFANA) and stack.has(Service.FAULT_PROXY)
    assert stack.grafana_auth[0] == "admin" and len(stack.grafana_auth[1]) >= 16
    other, *_ = make_stack(tmp_path / "other")
    assert other.grafana_auth[1] != stack.grafana_auth[1]
    assert other.credentials.admin_token != stack.credentials.admin_token


def test_a_fresh_instance_tears_down_the_recorded_stack(tmp_path: Path) -> None:
    """`drillctl down` builds DockerStack(run_dir=...) in another process and calls down()."""
    stack, client, compose, _ = make_stack(tmp_path)
    stack.up()
    recorded = json.loads((stack.run_dir / "stack.json").read_text())
    assert recorded["credentials"]["admin_token"] == stack.credentials.admin_token
    assert recorded["harness_pid"] > 0
    other = DockerStack(run_dir=tmp_path / "run", client=client, compose=compose)
    assert other.env_file == stack.env_file
    other.down()
    assert [c[0] for c in compose.calls] == ["up", "down"]
    assert compose.calls[1][1]["DRILL_ADMIN_TOKEN"] == stack.credentials.admin_token  # the recorded env
    assert json.loads((stack.run_dir / "stack.json").read_text())["state"] == "ready"  # not overwritten
    assert stack.status(Service.TARGET) == ServiceStatus.ABSENT


def test_down_without_a_recorded_stack_does_nothing(tmp_path: Path) -> None:
    compose = FakeCompose(FakeDockerClient())
    DockerStack(run_dir=tmp_path, compose=compose).down()
    assert compose.calls == []
    with pytest.raises(StackError, match="settings or a run_dir"):
        DockerStack()


def test_memory_limit_is_a_live_docker_update(tmp_path: Path) -> None:
    stack, client, *_ = make_stack(tmp_path)
    stack.up()
    assert stack.memory_limit(Service.TARGET) == 256
    stack.set_memory_limit(Service.TARGET, 384)
    assert ("update", "target", "384m") in client.calls
    assert stack.memory_limit(Service.TARGET) == 384

"""The Locust-side fixtures (shapes, per-request records, the demo profile).

Importing locust monkey-patches the process with gevent, so each check runs in
its own Python subprocess with ``fixtures/load`` on the path.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

from harness.load.runner import load_dir


def run_script(script: str, env: dict[str, str] | None = None, timeout: float = 60.0) -> Any:
    full_env = dict(os.environ)
    full_env["PYTHONPATH"] = str(load_dir())
    full_env.update(env or {})
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script)],
        capture_output=True,
        text=True,
        env=full_env,
        timeout=timeout,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


SHAPE_TICKS = """
    import json, os, time, types
    import shapes

    opts = types.SimpleNamespace(num_users=4, spawn_rate=2.0, run_time=100)
    runner = types.SimpleNamespace(environment=types.SimpleNamespace(parsed_options=opts))
    out = {}
    for kind in ["steady", "spike", "ramp", "soak"]:
        os.environ["DRILL_SHAPE"] = kind
        shape = shapes.DrillShape()
        shape.runner = runner
        ticks = []
        for elapsed in [0, 4, 12, 24, 59, 99, 101]:
            shape.start_time = time.perf_counter() - elapsed
            tick = shape.tick()
            ticks.append(None if tick is None else [tick[0], tick[1]])
        out[kind] = ticks
    os.environ["DRILL_SHAPE"] = "sawtooth"
    try:
        shapes.DrillShape()
        out["bad"] = "accepted"
    except ValueError:
        out["bad"] = "refused"
    print(json.dumps(out))
"""


def test_shapes_follow_their_definitions_and_stop_at_the_bound() -> None:
    env = {
        "DRILL_SPIKE_AFTER_S": "10",
        "DRILL_SPIKE_DURATION_S": "10",
        "DRILL_SPIKE_MULTIPLIER": "3",
        "DRILL_RAMP_SECONDS": "20",
        "DRILL_SOAK_RAMP_SECONDS": "50",
    }
    out = run_script(SHAPE_TICKS, env)
    shapes = {kind: ticks for kind, ticks in out.items() if kind != "bad"}
    users = {kind: [None if t is None else t[0] for t in ticks] for kind, ticks in shapes.items()}
    assert users["steady"] == [4, 4, 4, 4, 4, 4, None]
    assert users["spike"] == [4, 4, 12, 4, 4, 4, None]
    assert users["ramp"] == [1, 1, 3, 4, 4, 4, None]
    assert users["soak"] == [1, 1, 1, 2, 4, 4, None]
    assert out["spike"][2][1] >= 12  # the spike arrives within a second
    assert out["steady"][0][1] == 2.0
    assert out["bad"] == "refused"


LOCUST_DISCOVERY = """
    import json, sys
    from locust.util.load_locustfile import load_locustfile
    users, _ = load_locustfile(sys.argv[1] + "/demo_users.py")
    _, shapes = load_locustfile(sys.argv[1] + "/shapes.py")
    weights = {name: cls.weight for name, cls in users.items()}
    print(json.dumps({"users": weights, "shapes": [type(s).__name__ for s in shapes]}))
"""


def test_locust_finds_the_user_mix_and_exactly_one_shape() -> None:
    script = LOCUST_DISCOVERY.replace("sys.argv[1]", repr(str(load_dir())))
    out = run_script(script)
    assert out["users"] == {"Writer": 3, "Reader": 5, "Browser": 2}
    assert out["shapes"] == ["DrillShape"]


REQUEST_EVENTS = """
    import json, os, pathlib
    import gevent
    import drill_events
    from locust import events

    class Response:
        def __init__(self, status, body):
            self.status_code, self.body = status, body
        def json(self):
            if self.body is None:
                raise ValueError("no json")
            return self.body

    def fire(method, name, status, body, exception=None, write=False, start=100.0):
        events.request.fire(request_type=method, name=name, response_time=12.5, response_length=1,
                            response=Response(status, body), context={"write": True} if write else {},
                            exception=exception, start_time=start, url="http://127.0.0.1/x")

    log_dir = pathlib.Path(os.environ["DRILL_REQUEST_LOG_DIR"])
    events.init.fire(environment=None)
    fire("POST", "/orders", 201, {"id": "id-1"}, write=True, start=100.0)
    gevent.sleep(0.8)  # the periodic flush writes without any quit
    flushed = sum(len(p.read_text().splitlines()) for p in log_dir.glob("*.jsonl"))
    fire("POST", "/orders", 503, {"error": "read only"}, exception=Exception("HTTP 503"),
         write=True, start=101.0)
    fire("GET", "/catalog", 0, None, exception=ConnectionError("refused"), start=102.0)
    fire("GET", "/orders/{id}", 200, {"id": "id-1"}, start=103.0)
    events.quitting.fire(environment=None)
    lines = [json.loads(l) for p in log_dir.glob("*.jsonl") for l in p.read_text().splitlines()]
    print(json.dumps({"flushed": flushed, "lines": lines, "files": [p.name for p in log_dir.glob("*")]}))
"""


def test_request_records_capture_acknowledged_and_failed_requests(tmp_path: Path) -> None:
    out = run_script(REQUEST_EVENTS, {"DRILL_REQUEST_LOG_DIR": str(tmp_path / "requests")})
    assert out["flushed"] == 1
    assert len(out["files"]) == 1 and out["files"][0].startswith("requests-")
    ack, failed, refused, read = out["lines"]
    assert ack == {
        "t": 100.0, "name": "/orders", "method": "POST", "status": 201, "ms": 12.5,
        "ok": True, "write": True, "order_id": "id-1", "error": None,
    }
    assert failed["ok"] is False and failed["write"] is True and failed["order_id"] is None
    assert failed["status"] == 503 and "503" in failed["error"]
    assert refused["status"] == 0 and refused["ok"] is False and "refused" in refused["error"]
    assert read["ok"] is True and read["write"] is False and read["order_id"] is None


def test_without_a_log_dir_the_module_is_inert() -> None:
    script = """
        import json, drill_events
        from locust import events
        events.request.fire(request_type="GET", name="/x", response_time=1, response_length=1,
                            response=None, context={}, exception=None, start_time=1.0)
        print(json.dumps({"log": drill_events._LOG is None}))
    """
    env = {"DRILL_REQUEST_LOG_DIR": ""}
    assert run_script(script, env) == {"log": True}

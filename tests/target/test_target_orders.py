"""Orders, catalog, limits and request ids against a real target, Postgres and Redis."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from target_procs import PostgresServer, RedisServer, Target, TargetFactory

pytestmark = pytest.mark.integration

ORDER = {"sku": "sku-coffee", "quantity": 2, "customer": "alice"}


def test_order_write_then_read_through_cache(target: Target) -> None:
    with target.client() as client:
        created = client.post("/orders", json=ORDER)
        assert created.status_code == 201, created.text
        order = created.json()
        uuid.UUID(order["id"])
        assert order["total_cents"] == 2 * 899
        first = client.get(f"/orders/{order['id']}")
        second = client.get(f"/orders/{order['id']}")
    assert first.status_code == 200 and second.status_code == 200
    assert first.headers["x-cache"] == "miss"
    assert second.headers["x-cache"] == "hit"
    assert second.json()["id"] == order["id"]
    assert second.json()["customer"] == "alice"


def test_unknown_order_is_404(target: Target) -> None:
    with target.client() as client:
        assert client.get(f"/orders/{uuid.uuid4()}").status_code == 404
        assert client.get("/orders/not-a-uuid").status_code == 404


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[1, 2]",
        b'{"sku": "a", "quantity": 0, "customer": "c"}',
        b'{"sku": "a", "quantity": true, "customer": "c"}',
        b'{"sku": "", "quantity": 1, "customer": "c"}',
        b'{"sku": "a", "quantity": 1}',
        b'{"sku": "a", "quantity": 101, "customer": "c"}',
    ],
)
def test_invalid_order_is_400(target: Target, body: bytes) -> None:
    with target.client() as client:
        response = client.post("/orders", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 400, response.text
    assert "error" in response.json()


def test_body_over_limit_is_413(target: Target) -> None:
    big = b'{"sku": "' + b"x" * 20000 + b'", "quantity": 1, "customer": "c"}'
    with target.client() as client:
        declared = client.post("/orders", content=big, headers={"content-type": "application/json"})

        def chunks() -> Iterator[bytes]:
            for _ in range(40):
                yield b"x" * 1024

        streamed = client.post("/orders", content=chunks())  # chunked: no Content-Length
    assert declared.status_code == 413
    assert streamed.status_code == 413
    assert streamed.headers["x-request-id"]


def test_request_id_echoed_or_generated(target: Target) -> None:
    with target.client() as client:
        echoed = client.get("/health/live", headers={"X-Request-Id": "drill-abc-123"})
        generated = client.get("/catalog")
        missing = client.get("/no/such/route")
    assert echoed.headers["x-request-id"] == "drill-abc-123"
    assert len(generated.headers["x-request-id"]) >= 16
    assert missing.status_code == 404 and missing.headers["x-request-id"]


def test_catalog_prices(target: Target) -> None:
    with target.client() as client:
        response = client.get("/catalog")
    assert response.status_code == 200
    items = {item["sku"]: item for item in response.json()["items"]}
    assert items["sku-coffee"]["price_cents"] == 899
    assert items["sku-coffee"]["currency"] == "EUR"


def test_admin_requires_token(target: Target) -> None:
    with target.client() as client:
        assert client.get("/admin/state").status_code == 401
        assert client.get("/admin/state", headers={"Authorization": "Bearer wrong"}).status_code == 401
        response = client.get("/admin/state", headers=target.admin_headers)
    assert response.status_code == 200
    assert response.json()["breakers"] == {"redis": "closed", "postgres": "closed"}


def test_rate_limit_per_client(
    target_factory: TargetFactory, postgres: PostgresServer, redis: RedisServer
) -> None:
    limited = target_factory(postgres.url, redis.url, DEMO_RATE_LIMIT_RPS="5")
    limited.wait_ready()
    with limited.client() as client:
        codes = [client.get("/catalog", headers={"X-Client-Id": "greedy"}).status_code for _ in range(30)]
        other = client.get("/catalog", headers={"X-Client-Id": "polite"})
        metrics = client.get("/metrics").text
    assert 429 in codes, codes
    assert codes.count(200) >= 5
    assert other.status_code == 200
    assert _sample(metrics, "demo_rate_limited_total") >= 1


def _sample(exposition: str, name: str) -> float:
    for line in exposition.splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"{name} not in exposition")

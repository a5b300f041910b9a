"""Postgres faults: losing the server, and exhausting its connection slots."""

from __future__ import annotations

import contextlib
import logging
from typing import Annotated, Any, Literal

import psycopg
from pydantic import Field

from harness.errors import FaultError
from harness.faults.base import Fault, FaultContext, FaultParams
from harness.faults.probes import count_orders, ensure_running, postgres_connect
from harness.stack.base import Service, ServiceAction

log = logging.getLogger(__name__)

MAX_HELD = 1000
FILL_ROUNDS = 6


class PostgresLossFault(Fault):
    """Stop (fast shutdown) or kill Postgres; revert starts it and proves no committed row was lost."""

    kind = "postgres_loss"

    class Params(FaultParams):
        mode: Literal["stop", "kill"] = "stop"

    params: Params

    def prepare(self, ctx: FaultContext) -> None:
        self.undo["rows_before"] = count_orders(ctx)

    def _inject(self, ctx: FaultContext) -> None:
        # recount right before: rows may have been written since prepare()
        self.undo["rows_before"] = count_orders(ctx)
        action = ServiceAction.STOP if self.params.mode == "stop" else ServiceAction.KILL
        ctx.stack.control(Service.POSTGRES, action)

    def _revert(self, ctx: FaultContext) -> None:
        self.undo["revert"] = ensure_running(ctx, Service.POSTGRES)
        after = count_orders(ctx)
        self.undo["rows_after"] = after
        before = self.undo.get("rows_before")
        if isinstance(before, int) and after < before:
            raise FaultError(f"Postgres lost data: orders had {before} rows before the fault, {after} after")


class PostgresPoolExhaustionFault(Fault):
    """Hold every connection slot Postgres has (idle in transaction) so the target cannot connect.

    ``connections`` = None sizes the hold from ``max_connections``; with
    ``terminate_others`` the target's existing connections are terminated too
    (otherwise its pool would keep working on the connections it already holds).
    """

    kind = "postgres_pool_exhaustion"

    class Params(FaultParams):
        connections: Annotated[int, Field(ge=1, le=MAX_HELD)] | None = None
        terminate_others: bool = True

    params: Params

    def __init__(self, params: FaultParams, *, fault_id: str | None = None) -> None:
        super().__init__(params, fault_id=fault_id)
        self.held: list[psycopg.Connection[tuple[Any, ...]]] = []

    @property
    def application_name(self) -> str:
        return f"drill-pool-{self.id}"

    def _open(self, ctx: FaultContext) -> bool:
        try:
            conn = postgres_connect(ctx, application_name=self.application_name, autocommit=False)
        except psycopg.OperationalError as exc:
            if "too many" in str(exc) or "reserved" in str(exc):
                return False
            raise FaultError(f"cannot connect to Postgres: {exc}") from exc
        conn.execute("SELECT 1")  # opens a transaction and leaves it idle
        self.held.append(conn)
        return True

    def _fill(self, ctx: FaultContext, limit: int) -> None:
        while len(self.held) < limit and self._open(ctx):
            pass

    def _others(self) -> list[int]:
        row = self.held[0].execute(
            "SELECT array_agg(pid) FROM pg_stat_activity WHERE backend_type = 'client backend' "
            "AND pid <> pg_backend_pid() AND application_name <> %s", (self.application_name,)
        ).fetchone()
        return list(row[0] or []) if row else []

    def _inject(self, ctx: FaultContext) -> None:
        with postgres_connect(ctx) as probe:
            row = probe.execute("SELECT current_setting('max_connections')::int").fetchone()
        max_connections = int(row[0]) if row else 100
        self.undo["max_connections"] = max_connections
        limit = self.params.connections or max_connections
        for _ in range(FILL_ROUNDS):
            self._fill(ctx, limit)
            if not self.held:
                raise FaultError("could not open a single Postgres connection")
            if not self.params.terminate_others or self.params.connections is not None:
                break
            others = self._others()
            if not others:
                break
            self.held[0].execute("SELECT pg_terminate_backend(p) FROM unnest(%s::int[]) AS p", (others,))
        self.undo["held"] = len(self.held)

    def _revert(self, ctx: FaultContext) -> None:
        held, self.held = self.held, []
        for conn in held:
            with contextlib.suppress(Exception):
                conn.close()
        # a fault rebuilt from the ledger holds nothing: end whatever its name still holds
        try:
            with postgres_connect(ctx) as conn:
                conn.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = %s",
                    (self.application_name,),
                )
        except psycopg.Error as exc:
            raise FaultError(f"Postgres unreachable after releasing the pool: {exc}") from exc

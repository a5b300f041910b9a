"""The data-integrity audit: every acknowledged write must still be in Postgres.

A write the target acknowledged (``201`` with an id, sent only after the commit)
and that is missing from the ``orders`` table afterwards is a *lost write*. A
write that failed is not: the client was told, and can retry.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

import psycopg

from harness.errors import StackError

_CHUNK = 1000


def _parse(order_id: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(order_id)
    except (ValueError, AttributeError, TypeError):
        return None


def find_lost_writes(ids: Sequence[str], dsn: str, *, timeout_s: float = 10.0) -> list[str]:
    """Ids from ``ids`` that are not in ``orders``, in input order (duplicates once).

    An id that is not a UUID cannot be in the table and is reported lost. Raises
    :class:`harness.errors.StackError` when Postgres cannot be queried.
    """
    unique = list(dict.fromkeys(ids))
    parsed = {order_id: _parse(order_id) for order_id in unique}
    valid = [u for u in parsed.values() if u is not None]
    present: set[uuid.UUID] = set()
    if valid:
        try:
            with psycopg.connect(dsn, connect_timeout=max(1, int(timeout_s)), autocommit=True) as conn:
                conn.execute(f"SET statement_timeout = {int(timeout_s * 1000)}")
                for offset in range(0, len(valid), _CHUNK):
                    chunk = valid[offset : offset + _CHUNK]
                    rows = conn.execute("SELECT id FROM orders WHERE id = ANY(%s)", (chunk,)).fetchall()
                    present.update(row[0] for row in rows)
        except psycopg.Error as exc:
            raise StackError(f"cannot audit acknowledged writes in postgres: {exc}") from exc
    return [order_id for order_id, u in parsed.items() if u is None or u not in present]

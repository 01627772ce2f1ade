"""Idempotency keys for sends, decided inside the send's single D1 batch (no read-then-write).

How one batch makes it atomic (D1 runs a batch as one transaction, statements in order):

1. ``claim``: ``INSERT`` our key row carrying our freshly generated message ids; on conflict
   with an existing key it is only overwritten when that one has expired (24 h).
2. every write of the send is guarded by ``WHERE EXISTS (stored row carries OUR ids)``
   (:data:`OWNS_KEY`): our ids are new random values, so the guard holds only if step 1 stored
   our row — for a replay or a conflict the writes insert nothing.
3. ``stored``: read the row back; :func:`decide` compares it with what we tried to store.

Fifty simultaneous identical requests therefore produce exactly one set of rows: whichever batch
D1 serialises first claims the key, the others find its ids and replay them.
"""

import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any

from edgenotify.db.d1 import Query

TTL_SECONDS = 24 * 3600
MAX_KEY_LENGTH = 255
# Printable ASCII without leading/trailing blanks: safe in logs, headers and SQL text comparisons.
_KEY = re.compile(r"^[\x21-\x7e]([\x20-\x7e]*[\x21-\x7e])?$")

CREATED, REPLAYED, CONFLICT = "created", "replayed", "conflict"

# Appended to each guarded write; parameters: (key, user_id, our message_ids JSON).
OWNS_KEY = "EXISTS (SELECT 1 FROM idempotency_keys WHERE idempotency_key = ? AND user_id = ? AND message_ids = ?)"

_CLAIM = (
    "INSERT INTO idempotency_keys (idempotency_key, user_id, request_hash, message_ids, expires_at, created_at) "
    "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (idempotency_key, user_id) DO UPDATE SET "
    "request_hash = excluded.request_hash, message_ids = excluded.message_ids, "
    "expires_at = excluded.expires_at, created_at = excluded.created_at "
    "WHERE idempotency_keys.expires_at <= ?"
)
_STORED = "SELECT request_hash, message_ids, expires_at FROM idempotency_keys WHERE idempotency_key = ? AND user_id = ?"


def valid_key(key: str) -> bool:
    return len(key) <= MAX_KEY_LENGTH and bool(_KEY.match(key))


def fingerprint(body: dict[str, Any]) -> str:
    """SHA-256 of the request body in canonical JSON: key order and spacing do not matter."""
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def ids_json(message_ids: dict[str, str]) -> str:
    return json.dumps(message_ids, separators=(",", ":"))


@dataclass(frozen=True)
class Claim:
    key: str
    user_id: str
    request_hash: str
    message_ids: str  # JSON {channel: message_id} as stored

    def owns_params(self) -> tuple[str, str, str]:
        return (self.key, self.user_id, self.message_ids)

    def insert(self, now: str, expires_at: str) -> Query:
        return Query.of(_CLAIM, self.key, self.user_id, self.request_hash, self.message_ids, expires_at, now, now)

    def stored(self) -> Query:
        return stored_query(self.key, self.user_id)


def stored_query(key: str, user_id: str) -> Query:
    return Query.of(_STORED, key, user_id)


@dataclass(frozen=True)
class Decision:
    outcome: str  # CREATED, REPLAYED or CONFLICT
    message_ids: dict[str, str]


def decide(row: dict[str, Any] | None, claim: Claim) -> Decision:
    """What the batch did, from the key row it read back after its guarded writes."""
    if row is None:  # cannot happen after the claim: fail loudly rather than guess whose key this is
        raise RuntimeError("idempotency key row missing after claim")
    if row["message_ids"] == claim.message_ids:
        return Decision(CREATED, json.loads(claim.message_ids))
    if row["request_hash"] == claim.request_hash:
        return Decision(REPLAYED, json.loads(row["message_ids"]))
    return Decision(CONFLICT, {})


def replay_of(row: dict[str, Any] | None, request_hash: str, now: str) -> Decision | None:
    """A stored, unexpired key row as a decision (for the error path that never reached the batch)."""
    if row is None or row["expires_at"] <= now:
        return None
    if row["request_hash"] != request_hash:
        return Decision(CONFLICT, {})
    return Decision(REPLAYED, json.loads(row["message_ids"]))

"""Offline sync (spec 000 §4.7, §9.2): replay a device's queued actions in sequence order.

Per action, first match wins:
* already processed (same device sequence with the same checksum, or the same checksum under
  any sequence, or repeated in this request) → rejected `already_processed` / `duplicate`;
* same sequence, different checksum → `sequence_reused` / `manual_review`;
* checksum ≠ sha256(action_type|sequence_number|timestamp|canonical payload) →
  `invalid_checksum` / `manual_review`;
* the client is more than 5 versions behind, or the action names a `state_version` that is
  not the server's current one → `stale_state` / `state_refreshed`;
* the engine rejects it: CARD_EXPIRED → `card_expired` / `auto_skip` (the worst outcome was
  already applied when the card expired), INSUFFICIENT_FUNDS → `insufficient_funds` /
  `insufficient_funds`, a card already resolved (another device won) → `already_processed`
  / `duplicate`, anything else → its code / `manual_review`;
* otherwise accepted (state_version + 1).
Every processed sequence is recorded, so the same sync twice changes nothing.
"""

from __future__ import annotations

import hashlib
import uuid
from typing import Any

import orjson
from pydantic import BaseModel, Field
from sqlalchemy import or_, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from ludus.core.kit import clock
from ludus.core.kit.schemas import InputSchema
from ludus.moneylife import anticheat, bulk, repository, service, views
from ludus.moneylife.engine import advance_day
from ludus.moneylife.engine import apply_action as engine_apply
from ludus.moneylife.engine import errors as codes
from ludus.moneylife.errors import NoActiveGame
from ludus.moneylife.gameplay import Player
from ludus.moneylife.models import SyncAction
from ludus.moneylife.schemas import GameView

MAX_QUEUE = 50
MAX_DIVERGENCE = 5


class QueuedAction(InputSchema):
    action_type: str = Field(min_length=1, max_length=32)
    payload: dict[str, Any] = Field(default_factory=dict)
    sequence_number: int = Field(ge=0, le=2**62)
    timestamp: int | str
    checksum: str = Field(min_length=64, max_length=64)
    state_version: int | None = Field(None, ge=0)


class SyncIn(InputSchema):
    device_id: str = Field(min_length=1, max_length=128)
    game_id: uuid.UUID | None = None
    last_known_server_sequence: int = Field(ge=0)
    queued_actions: list[QueuedAction] = Field(default_factory=list, max_length=MAX_QUEUE)
    client_state_hash: str | None = Field(None, max_length=64)


class Rejected(BaseModel):
    sequence: int
    reason: str
    resolution: str
    code: str | None = None


class SyncOut(BaseModel):
    accepted_actions: list[int]
    rejected_actions: list[Rejected]
    server_state: GameView
    server_sequence: int
    state_matched: bool


def action_checksum(action_type: str, payload: dict[str, Any], sequence: int, ts: int | str) -> str:
    body = orjson.dumps(payload, option=orjson.OPT_SORT_KEYS)
    text = f"{action_type}|{sequence}|{ts}|".encode() + body
    return hashlib.sha256(text).hexdigest()


def _engine_reason(code: str, message: str) -> tuple[str, str]:
    if code == codes.CARD_EXPIRED:
        return "card_expired", "auto_skip"
    if code == codes.INSUFFICIENT_FUNDS:
        return "insufficient_funds", "insufficient_funds"
    if code == codes.CARD_NOT_FOUND and "already resolved" in message:
        return "already_processed", "duplicate"
    if code == codes.STALE_STATE:
        return "stale_state", "state_refreshed"
    return code.lower(), "manual_review"


async def sync(session: AsyncSession, player: Player, body: SyncIn) -> SyncOut:
    game_id = body.game_id or await repository.latest_active_game(
        session, player.tenant_id, player.user_id
    )
    if game_id is None:
        raise NoActiveGame()
    loaded = await service.load(session, player.tenant_id, game_id, player.user_id)
    matched = body.client_state_hash == loaded.row.state_checksum
    actions = sorted(body.queued_actions, key=lambda a: a.sequence_number)
    known = await _known(session, game_id, body.device_id, actions)
    seen_seq: set[int] = set()
    seen_sum = {checksum for _, checksum in known.values()}
    by_seq = {seq: checksum for seq, checksum in known.values()}
    dropped = loaded.row.state_version - body.last_known_server_sequence > MAX_DIVERGENCE
    state, events = loaded.state, []
    accepted: list[int] = []
    rejected: list[Rejected] = []
    records: list[dict[str, Any]] = []

    def reject(a: QueuedAction, reason: str, resolution: str, code: str | None = None) -> None:
        rejected.append(
            Rejected(sequence=a.sequence_number, reason=reason, resolution=resolution, code=code)
        )
        if resolution != "duplicate" or code is not None:
            records.append(
                _record(player, game_id, body.device_id, a, "rejected", reason, resolution)
            )

    for a in actions:
        seq = a.sequence_number
        if seq in seen_seq or by_seq.get(seq) == a.checksum or a.checksum in seen_sum:
            reject(a, "already_processed", "duplicate")
            continue
        if seq in by_seq:
            rejected.append(
                Rejected(sequence=seq, reason="sequence_reused", resolution="manual_review")
            )
            continue
        seen_seq.add(seq)
        seen_sum.add(a.checksum)
        if a.checksum != action_checksum(a.action_type, a.payload, seq, a.timestamp):
            reject(a, "invalid_checksum", "manual_review")
            continue
        if dropped or (a.state_version is not None and a.state_version != state.state_version):
            reject(a, "stale_state", "state_refreshed")
            continue
        if a.action_type == "advance_day":
            new, evs = advance_day(state, None, loaded.content)
            error = next((e for e in evs if e["type"] == "ERROR"), None)
            outcome = {"status": "rejected", "code": error["code"]} if error else {}
        else:
            action = {**a.payload, "type": a.action_type}
            new, outcome, evs = engine_apply(state, action, loaded.content)
        if outcome.get("status") == "rejected":
            reason, resolution = _engine_reason(outcome["code"], outcome.get("message", ""))
            reject(a, reason, resolution, outcome["code"])
            continue
        state = new
        events.extend(evs)
        accepted.append(seq)
        records.append(_record(player, game_id, body.device_id, a, "accepted", None, None))

    now = clock.utcnow()
    if accepted:
        step = service.Step(state, events)
        await service.persist(
            session, loaded, step, automated=False, kind="sync", device_id=body.device_id, now=now
        )
    else:
        flag = anticheat.device(
            loaded.row.last_device_id, loaded.row.last_device_at, body.device_id, now
        )
        batch = bulk.Batch()
        anticheat.queue(
            batch,
            [flag] if flag else [],
            tenant_id=player.tenant_id,
            game_id=game_id,
            user_id=player.user_id,
            now=now,
        )
        await batch.flush(session)
        await repository.update_game(
            session, game_id, {"last_device_id": body.device_id, "last_device_at": now}
        )
    if records:
        await session.execute(insert(SyncAction).values(records).on_conflict_do_nothing())
    view = views.game_view(loaded, state)
    return SyncOut(
        accepted_actions=accepted,
        rejected_actions=rejected,
        server_state=view,
        server_sequence=state.state_version,
        state_matched=matched,
    )


async def _known(
    session: AsyncSession, game_id: uuid.UUID, device_id: str, actions: list[QueuedAction]
) -> dict[tuple[str, int], tuple[int, str]]:
    """Processed rows matching this request's sequences (this device) or checksums."""
    if not actions:
        return {}
    rows = await session.execute(
        select(SyncAction.device_id, SyncAction.sequence_number, SyncAction.checksum).where(
            SyncAction.game_id == game_id,
            or_(
                (SyncAction.device_id == device_id)
                & SyncAction.sequence_number.in_([a.sequence_number for a in actions]),
                SyncAction.checksum.in_([a.checksum for a in actions]),
            ),
        )
    )
    out: dict[tuple[str, int], tuple[int, str]] = {}
    for dev, seq, checksum in rows:
        # Another device's sequence numbers are its own: only its checksums matter here.
        out[(dev, seq)] = (seq if dev == device_id else -1, checksum)
    return out


def _record(
    player: Player,
    game_id: uuid.UUID,
    device_id: str,
    a: QueuedAction,
    status: str,
    reason: str | None,
    resolution: str | None,
) -> dict[str, Any]:
    return {
        "tenant_id": player.tenant_id,
        "game_id": game_id,
        "device_id": device_id,
        "sequence_number": a.sequence_number,
        "checksum": a.checksum,
        "action_type": a.action_type,
        "status": status,
        "reason": reason,
        "resolution": resolution,
    }

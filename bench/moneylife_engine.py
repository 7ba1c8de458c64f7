"""MoneyLife engine throughput on one core (no I/O).

Prints games/s for month-end (the 13-step cycle on a copy of each game's
state) and days/s for advance_day. Bounded runtime: a few seconds per phase.
Target: ≥ 5,000 games/s of month-end.
"""

from __future__ import annotations

import time

from ludus.moneylife.engine import GameState, advance_day, create_game, load_content, run_month_end

PERSONAS = ("teen", "student", "young_adult", "parent")
DIFFICULTIES = ("easy", "normal", "hard")
PHASE_SECONDS = 4.0


def _play(state: GameState, content: object, days: int) -> GameState:
    """Advance with a simple policy: resolve each pending card with its cheapest option."""
    for _ in range(days):
        actions = []
        for pending in state.pending_cards:
            if pending.status == "pending":
                card = content.cards[pending.card_id]  # type: ignore[attr-defined]
                option = min(card.options, key=lambda o: pending.costs[o.id] - pending.gains[o.id])
                actions.append(
                    {"type": "resolve_card", "card_instance_id": pending.id, "option_id": option.id}
                )
        state, _ = advance_day(state, actions, content, auto=True)  # type: ignore[arg-type]
    return state


def main() -> None:
    content = load_content("v1")
    games: list[GameState] = []
    seed = 1
    for persona in PERSONAS:
        for difficulty in DIFFICULTIES:
            for _ in range(8):
                state, _ = create_game(content, persona, difficulty, "USD", seed, f"g{seed}")
                games.append(state)
                seed += 1

    # advance_day throughput while bringing every game to the 31st of its first month.
    start = time.perf_counter()
    days = 0
    warmed: list[GameState] = []
    for state in games:
        warmed.append(_play(state, content, 30))
        days += 30
    elapsed = time.perf_counter() - start
    print(f"advance_day: {days / elapsed:,.0f} days/s ({days} days in {elapsed:.2f}s)")

    # Month-end throughput: the full month-end on a copy of each game, round robin.
    count = 0
    start = time.perf_counter()
    deadline = start + PHASE_SECONDS
    while time.perf_counter() < deadline:
        for state in warmed:
            run_month_end(state, content)
        count += len(warmed)
    elapsed = time.perf_counter() - start
    rate = count / elapsed
    print(f"month-end: {rate:,.0f} games/s ({count} month-ends in {elapsed:.2f}s)")
    print("target ≥ 5,000 games/s:", "met" if rate >= 5_000 else "NOT met")


if __name__ == "__main__":
    main()

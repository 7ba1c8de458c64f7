"""Credit health index (CHI), 300–850, from five 0–100 components.

CHI = round(300 + 5.5 × (0.35·PH + 0.30·UT + 0.15·AGE + 0.10·MIX + 0.10·NEW)),
computed in integers (weights in hundredths, ×55/10) and rounded half-even.
Payment history is clamped to 0–100 after every update. Overrides (bankruptcy,
collections, the starting 650) are kept as a separate offset that decays by
10 points a month toward zero.
"""

from __future__ import annotations

from .calendar import month_index
from .ledger import Ctx
from .money import div_round
from .state import GameState, Penalty

LATE_PENALTIES = (10, 20, 35, 50)  # 1–30, 31–60, 61–90, 90+ days
COLLECTIONS_PENALTY = 75
MIX_POINTS = {
    "checking": 10,
    "savings": 10,
    "credit_card": 20,
    "student_loan": 15,
    "auto_loan": 15,
    "mortgage": 20,
    "personal_loan": 10,
    "brokerage": 5,
    "retirement": 5,
}
_MIX_KIND = {"retirement": "brokerage"}  # one "investment" entry in the mix
OFFSET_DECAY = 10


def chi_from_parts(ph: int, ut: int, age: int, mix: int, new: int) -> int:
    weighted = 35 * ph + 30 * ut + 15 * age + 10 * mix + 10 * new  # ×100
    score = 300 + div_round(weighted * 55, 1000)
    return max(300, min(850, score))


def utilization_score(balance: int, limit: int, has_cards: bool = True) -> int:
    if not has_cards or limit <= 0:
        return 50
    if balance <= 0:
        return 85
    if balance * 10 < limit:
        return 100
    if balance * 100 < limit * 30:
        return 90
    if balance * 100 < limit * 50:
        return 70
    if balance * 100 < limit * 75:
        return 45
    if balance < limit:
        return 20
    return 0


def age_score(avg_months: int) -> int:
    for cap, score in ((3, 20), (6, 35), (12, 50), (24, 65), (36, 75), (60, 85)):
        if avg_months <= cap:
            return score
    return 100


def mix_score(types: list[str]) -> int:
    kinds = {_MIX_KIND.get(t, t) for t in types if t in MIX_POINTS}
    return min(100, sum(MIX_POINTS[k] for k in sorted(kinds)))


def new_credit_score(applications: int) -> int:
    return (100, 90, 75, 55, 35)[applications] if applications < 5 else 15


def _clamp_ph(st: GameState) -> None:
    st.payment_history = max(0, min(100, st.payment_history))


def record_late(st: GameState, missed_in_row: int) -> int:
    """Apply the payment-history penalty for a payment missed `missed_in_row` times."""
    amount = LATE_PENALTIES[min(missed_in_row, 4) - 1]
    st.payment_history -= amount
    _clamp_ph(st)
    st.penalties.append(Penalty(month_index(st.year, st.month), amount))
    return amount


def record_collections(st: GameState) -> None:
    st.payment_history -= COLLECTIONS_PENALTY
    _clamp_ph(st)
    st.penalties.append(Penalty(month_index(st.year, st.month), COLLECTIONS_PENALTY))
    st.chi_offset -= 100


def record_on_time(st: GameState) -> None:
    st.payment_history += 2
    _clamp_ph(st)


def _age_penalties(st: GameState) -> None:
    """Penalties halve after 12 months and vanish after 24 (credit given back)."""
    now = month_index(st.year, st.month)
    keep: list[Penalty] = []
    for p in st.penalties:
        age = now - p.month
        if p.stage == 0 and age >= 12:
            st.payment_history += p.amount // 2
            p.stage = 1
            _clamp_ph(st)
        if p.stage == 1 and age >= 24:
            st.payment_history += p.amount - p.amount // 2
            _clamp_ph(st)
            continue
        keep.append(p)
    st.penalties = keep


def compute_parts(st: GameState) -> dict[str, int]:
    now = month_index(st.year, st.month)
    balance = limit = 0
    has_cards = False
    ages: list[int] = []
    types: list[str] = []
    for acc in st.accounts:
        if acc.status == "closed":
            continue
        types.append(acc.type)
        if acc.type == "credit_card":
            has_cards = True
            balance += acc.balance
            limit += acc.credit_limit
        if acc.type not in ("brokerage", "retirement", "prepaid"):
            ages.append((st.day_number - acc.opened_day) // 30)
    avg_age = sum(ages) // len(ages) if ages else 0
    recent = sum(1 for m in st.inquiries if now - m < 6)
    return {
        "payment_history": st.payment_history,
        "utilization": utilization_score(balance, limit, has_cards),
        "credit_age": age_score(avg_age),
        "credit_mix": mix_score(types),
        "new_inquiries": new_credit_score(recent),
    }


def recompute_chi(ctx: Ctx) -> int:
    """Month-end step 9."""
    st = ctx.st
    _age_penalties(st)
    parts = compute_parts(st)
    base = chi_from_parts(
        parts["payment_history"], parts["utilization"], parts["credit_age"],
        parts["credit_mix"], parts["new_inquiries"],
    )  # fmt: skip
    if st.chi_offset > 0:
        st.chi_offset = max(0, st.chi_offset - OFFSET_DECAY)
    elif st.chi_offset < 0:
        st.chi_offset = min(0, st.chi_offset + OFFSET_DECAY)
    st.chi_parts = parts
    st.chi = max(300, min(850, base + st.chi_offset))
    return st.chi


def formula_chi(st: GameState) -> int:
    p = compute_parts(st)
    return chi_from_parts(p["payment_history"], p["utilization"], p["credit_age"],
                          p["credit_mix"], p["new_inquiries"])  # fmt: skip


def set_chi_override(st: GameState, target: int) -> None:
    """Pin CHI to `target` now via the decaying offset (bankruptcy, game start)."""
    st.chi_offset = target - formula_chi(st)
    st.chi = target

"""Insurance: premiums, claims with deductibles, disputes, renewal, lapse.

A claim must cite a logged incident; one deductible per incident; the player
pays deductible + the uncovered share. Each claim adds +10 % (additive) at the
next annual renewal. 1–2 unpaid months keep cover (arrears are netted from
claims); the 3rd unpaid month lapses the policy. Reinstatement within 60 days
costs arrears + 10 %.
"""

from __future__ import annotations

from .errors import (
    INSUFFICIENT_FUNDS,
    INVALID_ACTION,
    LIMIT_EXCEEDED,
    LOCKED,
    NOT_FOUND,
    ActionError,
)
from .ledger import Ctx, cash_account, emit, flow, new_id
from .money import div_round, pct_of
from .rng import Stream
from .state import Claim, Incident, Policy

DISPUTE_PPM = 100_000
APPEAL_FEE, APPEAL_WIN_PPM = 5_000, 700_000
LAWYER_FEE, LAWYER_WIN_PPM = 20_000, 950_000
REINSTATE_DAYS = 60


def claim_split(cost: int, deductible: int, coverage_bp: int) -> tuple[int, int]:
    """(player pays, insurer pays) for one incident."""
    ded = min(cost, deductible)
    rest = cost - ded
    insurer = pct_of(rest, coverage_bp)
    return cost - insurer, insurer


def renewal_premium(base_premium: int, claims: int, prior_increase_bp: int = 0) -> int:
    increase = prior_increase_bp + 1_000 * claims
    return div_round(base_premium * (10_000 + increase), 10_000)


def buy_policy(ctx: Ctx, kind: str, premium_override: int | None = None) -> Policy:
    st = ctx.st
    spec = ctx.content.insurance.get(kind)
    if spec is None:
        raise ActionError(INVALID_ACTION, f"unknown insurance {kind}")
    if premium_override is None:
        if st.level < spec.unlock_level:
            raise ActionError(LOCKED, f"{kind} insurance unlocks at level {spec.unlock_level}")
        if spec.requires == "car" and not st.car_value:
            raise ActionError(LOCKED, "auto insurance needs a car")
        if spec.requires == "home" and not st.home_value:
            raise ActionError(LOCKED, "home insurance needs a home")
    if any(p.type == kind and p.status != "cancelled" for p in st.policies):
        raise ActionError(LIMIT_EXCEEDED, "one policy per type")
    if premium_override is not None:
        premium = premium_override
    elif kind == "home":
        premium = 0  # the mortgage escrow already charges home insurance: charge once
    else:
        premium = int(spec.premium * 100)
    policy = Policy(new_id(st, "pol"), kind, premium, premium, int(spec.deductible * 100),
                    spec.coverage_bp, payout=int(spec.payout * 100),
                    started_day=st.day_number)  # fmt: skip
    st.policies.append(policy)
    return policy


def cancel_policy(ctx: Ctx, policy_id: str) -> None:
    policy = _policy(ctx, policy_id)
    policy.status = "cancelled"


def _policy(ctx: Ctx, policy_id: str) -> Policy:
    for p in ctx.st.policies:
        if p.id == policy_id and p.status != "cancelled":
            return p
    raise ActionError(NOT_FOUND, policy_id)


def charge_premium(ctx: Ctx, policy: Policy) -> bool:
    """Step 2 (insurance priority). Returns False when the premium was missed."""
    if policy.status != "active" or policy.premium == 0:
        return True
    cash = cash_account(ctx.st)
    if cash.balance >= policy.premium:
        flow(ctx, cash, -policy.premium, "insurance_premium", "insurance")
        policy.unpaid_months = 0
        return True
    policy.unpaid_months += 1
    policy.arrears += policy.premium
    if policy.unpaid_months >= 3:
        policy.status = "lapsed"
        policy.lapsed_day = ctx.st.day_number
        emit(ctx, "POLICY_LAPSED", policy_id=policy.id)
    return False


def reinstate(ctx: Ctx, policy_id: str) -> None:
    policy = _policy(ctx, policy_id)
    if policy.status != "lapsed" or ctx.st.day_number - policy.lapsed_day > REINSTATE_DAYS:
        raise ActionError(INVALID_ACTION, "only lapsed policies within 60 days")
    cost = pct_of(policy.arrears, 11_000)
    cash = cash_account(ctx.st)
    if cash.balance < cost:
        raise ActionError(INSUFFICIENT_FUNDS, "cannot pay arrears + 10%")
    flow(ctx, cash, -cost, "insurance_premium", "insurance")
    policy.status = "active"
    policy.arrears = policy.unpaid_months = 0
    policy.lapsed_day = -1


def file_claim(ctx: Ctx, policy_id: str, incident_id: str) -> Claim:
    """Claim for an incident already paid by the player: the insurer reimburses."""
    st = ctx.st
    policy = _policy(ctx, policy_id)
    incident = next((i for i in st.incidents if i.id == incident_id), None)
    if incident is None:
        raise ActionError(NOT_FOUND, "claims must cite a logged event")
    if incident.claimed or policy.status != "active":
        raise ActionError(INVALID_ACTION, "incident already claimed or policy inactive")
    if incident.insurance != policy.type:
        raise ActionError(INVALID_ACTION, "policy does not cover this incident")
    return settle_claim(ctx, policy, incident, prepaid=True)


def settle_claim(ctx: Ctx, policy: Policy, incident: Incident, prepaid: bool = True) -> Claim:
    """prepaid: the player already paid the whole bill, so the insurer reimburses."""
    st = ctx.st
    player, insurer = claim_split(incident.cost, policy.deductible, policy.coverage_bp)
    if policy.type in ("life", "disability"):
        player, insurer = 0, incident.cost
    netted = min(policy.arrears, insurer)
    insurer -= netted
    if netted:
        policy.arrears -= netted
        policy.unpaid_months = 0
    incident.claimed = True
    policy.claims_filed += 1
    policy.claims_term += 1
    disputed = Stream(st.seed, "claims", incident.id).chance_ppm(DISPUTE_PPM)
    claim = Claim(new_id(st, "clm"), policy.id, incident.id, incident.cost, player, insurer,
                  "disputed" if disputed else "paid", st.day_number)  # fmt: skip
    st.claims.append(claim)
    if not disputed and insurer and prepaid:
        flow(ctx, cash_account(st), insurer, "insurance_claim")
    emit(ctx, "CLAIM", claim_id=claim.id, status=claim.status, player_pays=player,
         insurer_pays=insurer)  # fmt: skip
    return claim


def resolve_dispute(ctx: Ctx, claim_id: str, choice: str) -> Claim:
    st = ctx.st
    claim = next((c for c in st.claims if c.id == claim_id and c.status == "disputed"), None)
    if claim is None:
        raise ActionError(NOT_FOUND, claim_id)
    if choice not in ("accept", "appeal", "lawyer"):
        raise ActionError(INVALID_ACTION, "choose accept, appeal or lawyer")
    cash = cash_account(st)
    fee, win_ppm = (
        (APPEAL_FEE, APPEAL_WIN_PPM) if choice == "appeal" else (LAWYER_FEE, LAWYER_WIN_PPM)
    )
    if choice == "accept":
        claim.status = "denied"
        return claim
    if cash.balance < fee:
        raise ActionError(INSUFFICIENT_FUNDS, "cannot pay the dispute fee")
    flow(ctx, cash, -fee, "fee", "misc")
    won = Stream(st.seed, "dispute", claim.id).chance_ppm(win_ppm)
    claim.status = "won" if won else "denied"
    if won:
        flow(ctx, cash, claim.insurer_pays, "insurance_claim")
        if choice == "lawyer":
            flow(ctx, cash, fee, "refund")
    return claim


def renew(ctx: Ctx) -> None:
    """Year-end renewal: +10 % per claim this term, additive and cumulative."""
    for policy in ctx.st.policies:
        if policy.status == "cancelled":
            continue
        if policy.claims_term:
            policy.increase_bp += 1_000 * policy.claims_term
            policy.premium = renewal_premium(policy.base_premium, 0, policy.increase_bp)
            policy.claims_term = 0


def active_policy(ctx: Ctx, kind: str) -> Policy | None:
    for p in ctx.st.policies:
        if p.type == kind and p.status == "active":
            return p
    return None


def log_incident(ctx: Ctx, kind: str, cost: int, insurance: str) -> Incident:
    incident = Incident(new_id(ctx.st, "inc"), kind, cost, ctx.st.day_number, insurance)
    ctx.st.incidents.append(incident)
    if len(ctx.st.incidents) > 24:
        ctx.st.incidents = ctx.st.incidents[-24:]
    return incident

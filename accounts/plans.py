"""What each plan allows. One table, read by the services that enforce it."""

from dataclasses import dataclass

from accounts.models import Plan


@dataclass(frozen=True)
class PlanLimits:
    max_persons: int | None  # None: no limit. The demo person does not count.


PLAN_LIMITS: dict[str, PlanLimits] = {
    Plan.FREE: PlanLimits(max_persons=5),
    Plan.PRO: PlanLimits(max_persons=100),
    Plan.AGENCY: PlanLimits(max_persons=None),
}


def plan_limits(plan: str) -> PlanLimits:
    return PLAN_LIMITS[plan]

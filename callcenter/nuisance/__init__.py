"""Nuisance numbers: the pure rules (`rules`), their history (`repository`), and the
checks and commands (`service`)."""

from callcenter.nuisance.rules import (
    RULE_MANUAL,
    RULE_MARKS,
    RULE_REPEAT,
    Flag,
    NuisanceError,
    PastCall,
    active_flag,
    is_nuisance_like,
    is_withheld,
    over_hard_limit,
    rule_hit,
)
from callcenter.nuisance.service import NuisanceService, Verdict

__all__ = [
    "RULE_MANUAL", "RULE_MARKS", "RULE_REPEAT", "Flag", "NuisanceError", "NuisanceService", "PastCall", "Verdict",
    "active_flag", "is_nuisance_like", "is_withheld", "over_hard_limit", "rule_hit",
]

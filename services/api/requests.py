"""Old home of the privacy request models and rules, kept so callers not yet moved still import.

New code imports :mod:`services.api.privacy.models`, ``.rules`` and ``.export``; remove this
module once nothing imports it.
"""

from __future__ import annotations

from .privacy.export import FORMULA_STARTS, export_csv, inert_cell
from .privacy.models import (
    Decision,
    HoldIn,
    HoldOut,
    Jurisdiction,
    OnBehalf,
    PrivacyRequestFiled,
    PrivacyRequestIn,
    PrivacyRequestList,
    PrivacyRequestOut,
    SelfServiceIn,
    Subject,
)
from .privacy.rules import (
    LIMITED_TYPES,
    OPEN_STATUSES,
    is_due_soon,
    job_of,
    new_request,
    next_allowed,
    one_year_after,
    open_request,
    view,
    with_status,
)

__all__ = [
    "FORMULA_STARTS",
    "LIMITED_TYPES",
    "OPEN_STATUSES",
    "Decision",
    "HoldIn",
    "HoldOut",
    "Jurisdiction",
    "OnBehalf",
    "PrivacyRequestFiled",
    "PrivacyRequestIn",
    "PrivacyRequestList",
    "PrivacyRequestOut",
    "SelfServiceIn",
    "Subject",
    "export_csv",
    "inert_cell",
    "is_due_soon",
    "job_of",
    "new_request",
    "next_allowed",
    "one_year_after",
    "open_request",
    "view",
    "with_status",
]

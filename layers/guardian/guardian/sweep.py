"""The scheduled sweep: reconcile the inventory with what exists (then, as rules arrive, evaluate them)."""

from datetime import datetime

from guardian.reconcile import SweepReport, reconcile
from guardian.runtime import Guardian


def sweep(guardian: Guardian, now: datetime) -> SweepReport:
    return reconcile(guardian, now, guardian.location())

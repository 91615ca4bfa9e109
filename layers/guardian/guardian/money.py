"""Dollars as people read them, decided here and nowhere else: every message, table, report and digest
formats its amounts through these functions. A price nobody knows is "unknown", never $0.00; a total
with unknown parts says how many ("$412.10 + 3 resources of unknown cost"). JSON and CSV carry the
numbers themselves: null (or an empty cell) for unknown, never 0."""

from decimal import Decimal

UNKNOWN = "unknown"
Amount = Decimal | float | int | None


def dollars(value: Amount) -> str:
    """An amount to the cent: $1,234.56; unknown when nobody knows it."""
    return UNKNOWN if value is None else f"${value:,.2f}"


def rate(value: Amount) -> str:
    """An hourly price as published, to a tenth of a cent: $0.115, $1.20."""
    if value is None:
        return UNKNOWN
    text = f"{value:,.3f}"
    return "$" + (text[:-1] if text.endswith("0") else text)


def partly_known(known: Amount, unknown: bool) -> str:
    """One thing's amount, part of which may have no price: unknown, $5.00 + unknown, or $5.00."""
    if not unknown:
        return dollars(known)
    return f"{dollars(known)} + {UNKNOWN}" if known else UNKNOWN


def total(known: Amount, unknown: int = 0, suffix: str = "", noun: str = "resource") -> str:
    """A sum over many things, ``unknown`` of which have no price: "$412.10/day + 3 resources of unknown
    cost", or only the count when nothing known adds to it. ``suffix`` follows the known amount ("/hour")."""
    if not unknown:
        return dollars(known) + suffix
    unpriced = f"{unknown} {noun}{'' if unknown == 1 else 's'} of unknown cost"
    return f"{dollars(known)}{suffix} + {unpriced}" if known else unpriced

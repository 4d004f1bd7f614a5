"""Money: exact `Decimal` amounts in the site's one currency (named once, in the economics).

Floats never hold money here: a ledger that must reconcile to the cent cannot sum binary fractions.
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal

CENT = Decimal("0.01")
ZERO = Decimal("0.00")

Amount = Decimal | int | float | str


def money(value: Amount) -> Decimal:
    """An amount rounded to the cent (banker's rounding, as accounting does).

    Floats go through their shortest repr, so 0.1 becomes exactly 0.10, not 0.1000000000000000055...

    >>> money(0.1) + money(0.2)
    Decimal('0.30')
    >>> money("12.345"), money(7)
    (Decimal('12.34'), Decimal('7.00'))
    """
    exact = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
    return exact.quantize(CENT, rounding=ROUND_HALF_EVEN)

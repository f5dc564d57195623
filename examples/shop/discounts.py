from decimal import Decimal


def apply(total: Decimal) -> Decimal:
    return total - Decimal("1.00") if total > Decimal("100") else total

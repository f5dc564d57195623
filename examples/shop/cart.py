from decimal import Decimal

from pricing import with_vat

from . import discounts


class Cart:
    def __init__(self):
        self.items = []

    def add(self, item):
        self.items.append(item)

    def total(self) -> Decimal:
        return discounts.apply(sum((with_vat(i) for i in self.items), Decimal("0")))

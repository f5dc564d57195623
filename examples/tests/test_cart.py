from decimal import Decimal

from shop.cart import Cart


class TestCart:
    def test_empty(self):
        assert Cart().total() == Decimal("0")

    def test_discount(self, item):
        cart = Cart()
        for _ in range(10):
            cart.add(item)
        assert cart.total() == Decimal("119.00")

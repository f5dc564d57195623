from decimal import Decimal

import pytest

from pricing import with_vat
from models import Item


def test_with_vat(item):
    assert with_vat(item) == Decimal("12.00")


@pytest.mark.parametrize("price,expected", [("1.00", "1.20"), ("0.05", "0.06")])
def test_rounding(price, expected):
    assert with_vat(Item("x", Decimal(price))) == Decimal(expected)

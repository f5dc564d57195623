import pytest
from decimal import Decimal

from models import Item


@pytest.fixture
def item():
    return Item("sku-1", Decimal("10.00"))

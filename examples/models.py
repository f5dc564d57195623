from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import threading  # only for type checkers: never imported at run time


@dataclass
class Item:
    sku: str
    price: Decimal
    tags: list = field(default_factory=list)

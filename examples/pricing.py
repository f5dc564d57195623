from decimal import Decimal, ROUND_HALF_UP

from models import Item

VAT = Decimal("0.20")


def with_vat(item: Item) -> Decimal:
    return (item.price * (1 + VAT)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


if __name__ == "__main__":
    import subprocess  # script-only code does not count

    subprocess.run(["echo", str(with_vat(Item("a", Decimal("1"))))])

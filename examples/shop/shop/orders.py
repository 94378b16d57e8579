"""The shared code: what an order is, used by every part of the app."""


def total(lines: list[dict]) -> int:
    return sum(int(line["quantity"]) * int(line["price_cents"]) for line in lines)

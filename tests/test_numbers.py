"""Order and tracking numbers as people type them."""
import pytest

from models.numbers import OrderNumberPolicy, normalize_order_no


@pytest.mark.parametrize("raw, expected", [
    ("ｓｏ-2026 1121-0388", "SO202611210388"),
    ("SO202611210388", "SO202611210388"),
    ("so_2026.1121/0388", "SO202611210388"),
    ("ＳＯ２０２６１１２１０３８８", "SO202611210388"),
    ("SO－2026－1121－0388", "SO202611210388"),
    ("SO\u30002026\u00a01121", "SO20261121"),
    ("sf 1502 9384 75610", "SF1502938475610"),
    ("", ""),
])
def test_normalisation(raw, expected):
    assert normalize_order_no(raw) == expected


def test_pattern():
    p = OrderNumberPolicy(r"^[A-Z]{1,4}[0-9]{6,20}$")
    assert p.is_valid("SO202611210388")
    assert not p.is_valid("SO12") and not p.is_valid("202611210388") and not p.is_valid("SO2026X")

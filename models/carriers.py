"""The couriers people name, and where each shows a parcel's way (the carrier's own tracking page).

An order's ``carrier`` is what the ledger, the ERP or a person typed: 顺丰, 顺丰速运, SF,
sf-express… ``carrier_of`` finds which courier that is (by name, else by the tracking
number's own prefix), and ``tracking_url`` the page of that parcel on the courier's site.
Couriers whose site takes no number in its address get their query page.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from urllib.parse import quote


@dataclass(frozen=True)
class Carrier:
    key: str
    zh: str
    en: str
    names: tuple[str, ...]  # what people call it, lower case, without spaces
    url: str  # {no} is the tracking number

    def name(self, locale: str) -> str:
        return self.zh if locale.startswith("zh") else self.en


CARRIERS = (
    Carrier("sf", "顺丰速运", "SF Express", ("顺丰", "sf", "sfexpress", "sf-express", "shunfeng"),
            "https://www.sf-express.com/chn/sc/waybill/waybill-detail/{no}"),
    Carrier("jd", "京东物流", "JD Logistics", ("京东", "jd", "jdl", "jdlogistics", "jingdong"),
            "https://www.jdl.com/orderSearch/?waybillCodes={no}"),
    Carrier("ems", "EMS", "EMS", ("ems", "邮政", "中国邮政", "chinapost", "youzheng"),
            "https://www.ems.com.cn/queryList?mailNum={no}"),
    Carrier("zto", "中通快递", "ZTO Express", ("中通", "zto", "zhongtong"),
            "https://www.zto.com/express/expressCheck.html?txtBill={no}"),
    Carrier("yto", "圆通速递", "YTO Express", ("圆通", "yto", "yuantong"),
            "https://www.yto.net.cn/Track/?wb={no}"),
    Carrier("sto", "申通快递", "STO Express", ("申通", "sto", "shentong"),
            "https://www.sto.cn/chaxun/index.html?bills={no}"),
    Carrier("yunda", "韵达快递", "Yunda Express", ("韵达", "yunda"),
            "https://www.yundaex.com/cn/gzcx.php"),
    Carrier("deppon", "德邦快递", "Deppon Express", ("德邦", "deppon", "debang"),
            "https://www.deppon.com/"),
)
BY_NAME = {name: c for c in CARRIERS for name in c.names}
# Numbers that say whose they are: SF1234567890123, JDVA00000000001, YT1234567890123.
PREFIXES = ((re.compile(r"^SF\d{12,15}$"), "sf"), (re.compile(r"^JD[A-Z]{0,2}\d{9,15}$"), "jd"),
            (re.compile(r"^YT\d{13}$"), "yto"))
KEYS = {c.key: c for c in CARRIERS}


def _plain(text: str) -> str:
    return re.sub(r"[\s_·.]+", "", unicodedata.normalize("NFKC", text)).lower()


def carrier_of(name: str | None, tracking_no: str | None = None) -> Carrier | None:
    """The courier ``name`` means (顺丰快递 is 顺丰), else the one the number's prefix names, else None."""
    typed = _plain(name or "")
    if typed:
        if typed in BY_NAME:
            return BY_NAME[typed]
        for known, carrier in BY_NAME.items():
            if len(known) >= 2 and not known.isascii() and known in typed:
                return carrier  # 顺丰快递, 中通快运: the Chinese name within a longer one
        trimmed = re.sub(r"(express|logistics|快递|速运|速递|物流)$", "", typed)
        if trimmed in BY_NAME:
            return BY_NAME[trimmed]
    number = _plain(tracking_no or "").upper()
    return next((KEYS[key] for pattern, key in PREFIXES if pattern.match(number)), None)


def tracking_url(name: str | None, tracking_no: str | None) -> str | None:
    """The courier's own page for this parcel, where the courier is known."""
    if not tracking_no:
        return None
    carrier = carrier_of(name, tracking_no)
    if carrier is None:
        return None
    return carrier.url.replace("{no}", quote(tracking_no.strip(), safe=""))

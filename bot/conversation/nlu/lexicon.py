"""Word lists the parser leans on, kept as data so they can grow without touching code.

The phrase tables (what each intent sounds like) are in ``bot.conversation.nlu.phrases``; this module
holds the intent names and their order, and the small lists around them: words that are
never "corrected", fillers that say nothing, courier prefixes, typical pinyin-IME slips.
"""
from __future__ import annotations

INTENTS: tuple[str, ...] = (
    "greeting", "help", "track_order", "list_orders", "subscribe", "unsubscribe",
    "expedite", "change_request", "after_sales", "human_agent", "provide_code", "fallback",
)

# Phrases filed under NEUTRAL say nothing ("不急", "no rush", "don't cancel") but, being
# heavy, hide the cue words inside them.
NEUTRAL = "none"
NEUTRAL_WEIGHT = 9.0

# Ties go to the earlier intent: the more specific the request, the earlier.
PRIORITY: tuple[str, ...] = (
    "human_agent", "unsubscribe", "subscribe", "after_sales", "change_request", "expedite",
    "provide_code", "track_order", "list_orders", "help", "greeting", "fallback",
)

# Asking for something to be done. A clear request outranks a status question in the same
# message ("发货了通知我一下", "SO… where is it? please rush"): the request is the point.
REQUESTS: frozenset[str] = frozenset({
    "human_agent", "unsubscribe", "subscribe", "after_sales", "change_request", "expedite", "provide_code",
})

# A reference in the text makes these beside the point: "hi SO2026…" is a lookup.
DROPPED_WITH_A_REF: frozenset[str] = frozenset({"greeting", "help", "list_orders"})

# Courier and order prefixes trusted even when written in lower case and apart from the
# digits ("sf 1502 9384 75610"). The configured default prefix is added by the parser.
KNOWN_PREFIXES: frozenset[str] = frozenset({
    "SF", "JD", "JDV", "JDX", "YT", "YTO", "ZTO", "STO", "YD", "YUNDA", "EMS", "JT", "JTSD", "DPK",
    "DB", "HTKY", "BEST", "ZJS", "UC", "DHL", "UPS", "PO", "SO",
})

# Letters that look like a prefix but are a label in front of a number ("no.2026…",
# "tel13800138000", "wx123456"): the number after them is read on its own.
NOT_PREFIXES: frozenset[str] = frozenset({
    "NO", "NR", "NUM", "ID", "TEL", "PH", "MOB", "QTY", "PCS", "PC", "X", "CODE", "PIN", "OTP",
    "RMB", "CNY", "USD", "KG", "IS", "MY", "OF", "FOR", "ON", "AT", "TO", "WX", "VX", "QQ", "AND",
    "OR", "THE", "AN", "A", "I", "IT", "IN", "BY", "NOW", "GOT",
})

# Common English words that are never corrected towards a keyword: a real word is not a
# typo ("there" is not "where", "dress" is not "address", "were" is not "where").
COMMON_EN: frozenset[str] = frozenset("""
about above after again also always another anything anyway around away back been before
being below best better both bought boxes came cant cars case cause come coming could
dear does doing done dont down dress each else even ever every everything fine first from
funny gave give given glad going gone good great have having hear heard held hell here
hers hello hold home hope into just keep kind know last later like line little look lots
love made make many maybe mean more most much must name near need never next nice none
note nothing okay once only open other ours over owner paid pays part past plan play
please plus pull push quite rash read real rest said same send shop shops show slow some
soon sort spend still such sure take tell than thank thanks that them then there these
they thing think this those though thus time today told took tried true truck trucks
very want wants wash well went were what whats wheat whether which while whom whose will
wish with without word words work world would yeah year years your yours joke jokes
weather capital france paris company hiring recruit sorry fwd
""".split())

# Words and characters that carry no meaning of their own next to a reference or a code:
# a message made only of these plus the reference is a bare lookup (or a bare code).
FILLER_EN: frozenset[str] = frozenset("""
pls plz please thanks thank thx ty you the my is it its order orders no number ref code pin
otp fwd fw re hi hello hey ok okay tracking verification here this and of for a an s
""".split())
FILLER_ZH: tuple[str, ...] = (
    "订单号", "单号", "订单", "快递", "运单", "号码", "号", "验证码是", "验证码", "是", "的", "了", "吗",
    "呢", "啊", "呀", "哦", "嗯", "请", "麻烦", "谢谢", "查一下", "查查", "查", "一下", "帮我", "转发",
    "亲", "你好", "您好", "这个", "我的", "看看",
)

# Slips a pinyin input method makes (same sound, wrong character), put right before
# matching. Only pairs that are hardly ever meant as written.
ZH_TYPOS: dict[str, str] = {
    "定单": "订单", "到那": "到哪", "在那里": "在哪里", "那一步": "哪一步", "那个环节": "哪个环节",
    "那个阶段": "哪个阶段", "人公": "人工", "发或": "发货", "退或": "退货", "换或": "换货", "定阅": "订阅",
    "物留": "物流", "快地": "快递", "进读": "进度", "加机": "加急", "客户服务": "客服",
}

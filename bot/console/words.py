"""The console's words, zh and en: one registry every page adds its own to.

Each page module calls ``add`` with its words at import; templates say ``_("key", n=3)``.
A key added twice with different words is a mistake caught at import.
"""
from __future__ import annotations

LANGS = ("zh", "en")
WORDS: dict[str, dict[str, str]] = {}


def add(words: dict[str, dict[str, str]]) -> None:
    for key, texts in words.items():
        missing = [lang for lang in LANGS if not texts.get(lang)]
        if missing:
            raise ValueError(f"console word {key!r} has no {', '.join(missing)} text")
        if key in WORDS and WORDS[key] != texts:
            raise ValueError(f"console word {key!r} is defined twice")
        WORDS[key] = texts


def word(key: str, lang: str, **values: object) -> str:
    texts = WORDS[key]
    text = texts.get(lang) or texts["zh"]
    return text.format(**values) if values else text


add({
    "app": {"zh": "订单后台", "en": "Order desk"},
    "nav.today": {"zh": "今日", "en": "Today"},
    "nav.orders": {"zh": "订单", "en": "Orders"},
    "nav.inbox": {"zh": "客户请求", "en": "Inbox"},
    "nav.people": {"zh": "人员", "en": "People"},
    "nav.signout": {"zh": "退出", "en": "Sign out"},
    "nav.lang": {"zh": "English", "en": "中文"},
    "nav.skip": {"zh": "跳到正文", "en": "Skip to content"},
    "signin.title": {"zh": "登录订单后台", "en": "Sign in to the order desk"},
    "signin.how": {"zh": "在任一已绑定的聊天里给订单助手发送 /console（或“后台”），点开收到的链接即可登录。",
                   "en": "Send /console to the order bot on any chat you are bound on, then open the link it answers with."},
    "signin.or_mail": {"zh": "或者，把登录链接发到您的工作邮箱：", "en": "Or have a sign-in link mailed to your work address:"},
    "signin.email": {"zh": "工作邮箱", "en": "Work e-mail"},
    "signin.send": {"zh": "发送登录链接", "en": "Mail me a link"},
    "signin.sent": {"zh": "如果这个邮箱属于本公司的员工，登录链接已经发出，5 分钟内有效。",
                    "en": "If this address belongs to a staff member, a sign-in link is on its way; it works for 5 minutes."},
    "signin.bad_email": {"zh": "请填写一个邮箱地址。", "en": "Please enter an e-mail address."},
    "signin.confirm": {"zh": "以 {name} 的身份登录订单后台", "en": "Sign in to the order desk as {name}"},
    "signin.go": {"zh": "登录", "en": "Sign in"},
    "signin.used": {"zh": "这个登录链接已失效", "en": "This sign-in link no longer works"},
    "signin.used_why": {"zh": "登录链接 5 分钟内有效，且只能使用一次。请在聊天里再发一次 /console 获取新链接。",
                        "en": "Sign-in links work once, within 5 minutes. Send /console to the bot again for a new one."},
    "signin.ended": {"zh": "您已退出，或登录已过期，请重新登录。", "en": "You are signed out, or your session ended. Please sign in again."},
    "signin.first": {"zh": "请先登录。", "en": "Please sign in first."},
    "forbidden": {"zh": "这个操作不被允许", "en": "This is not allowed"},
    "forbidden.csrf": {"zh": "页面已过期，请刷新后再试。", "en": "The page has expired; reload it and try again."},
    "forbidden.role": {"zh": "您的角色不能进行这个操作。", "en": "Your role may not do this."},
    "notfound": {"zh": "找不到这个页面", "en": "Page not found"},
    "notfound.why": {"zh": "地址可能有误，或您没有查看它的权限。", "en": "The address may be wrong, or it is not yours to see."},
    "bad_request": {"zh": "这个请求无法处理，请返回上一页重试。", "en": "This request cannot be handled; go back and try again."},
    "oops": {"zh": "出错了", "en": "Something went wrong"},
    "oops.why": {"zh": "这是我们这边的问题，已经记录下来。请稍后再试。",
                 "en": "It is our fault and it has been logged. Please try again in a moment."},
    "back_home": {"zh": "返回今日概览", "en": "Back to Today"},
    "role.admin": {"zh": "管理员", "en": "Admin"},
    "role.manager": {"zh": "经理", "en": "Manager"},
    "role.sales": {"zh": "销售", "en": "Sales"},
    "role.operator": {"zh": "操作员", "en": "Operator"},
    "channel.telegram": {"zh": "Telegram", "en": "Telegram"},
    "channel.wechat": {"zh": "微信公众号", "en": "WeChat"},
    "channel.email": {"zh": "邮件", "en": "E-mail"},
    "channel.web": {"zh": "网页聊天", "en": "Web chat"},
    "channel.wecom": {"zh": "企业微信", "en": "WeCom"},
    "channel.dingtalk": {"zh": "钉钉", "en": "DingTalk"},
    "channel.sms": {"zh": "短信", "en": "SMS"},
    "channel.console": {"zh": "后台", "en": "Console"},
    "channel.api": {"zh": "接口", "en": "API"},
    "channel.terminal": {"zh": "终端", "en": "Terminal"},
    "updated": {"zh": "更新于 {time}", "en": "Updated {time}"},
})

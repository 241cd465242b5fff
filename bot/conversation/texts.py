"""Every sentence the bot says, in Chinese and English.

``t(key, locale, **values)`` picks one. Both languages of a key take the same ``{values}``
(a test checks); a missing key or value is a bug, not something to paper over.
"""
from __future__ import annotations

import string
from collections.abc import Mapping
from typing import Any

from models.errors import EngineError
from models.workflows import Workflow

NODE_PARAMS = ("at", "to", "skipped", "nodes")  # refusal parameters that hold node keys

TEXTS: dict[str, dict[str, str]] = {
    # ------------------------------------------------------------ basics
    "greeting": {
        "zh": "您好！我是订单助手。把订单号发给我（例如 SO202611240042），我就告诉您它到哪一步了。",
        "en": "Hello! I'm the order assistant. Send me an order number (e.g. SO202611240042) and I'll tell "
              "you where it is.",
    },
    "help.customer": {
        "zh": "我可以：\n· 查订单进度：发送订单号或快递单号\n· 查看我的订单：发送“我的订单”\n"
              "· 订阅进度通知：发送“订阅 订单号”\n· 催单、修改、售后、转人工：直接告诉我\n"
              "· 按您的时区显示时间：发送 /timezone 时区，例如 /timezone Asia/Shanghai\n· 解除绑定：发送“退出”",
        "en": "I can:\n· track an order: send its number or a tracking number\n· list your orders: \"my orders\"\n"
              "· notify you of progress: \"subscribe ORDER\"\n· pass on a rush, change, return or a question to a "
              "person: just tell me\n· show times in your time zone: /timezone ZONE, e.g. /timezone Europe/London\n"
              "· forget this chat: \"logout\"",
    },
    "help.staff": {
        "zh": "同事命令：\n/order 订单号 — 查看订单\n/advance 订单号 节点 [备注] — 推进节点\n"
              "/exception 订单号 类型 [备注] — 登记异常\n/ack 订单号 [序号|全部] — 确认异常\n"
              "/resolve 订单号 [序号|全部] [备注] — 解决异常\n/rework（/返工）订单号 节点 原因 — 退回之前的节点\n"
              "/subscribe exceptions [部门|节点] — 订阅异常推送\n/subscribe 订单号 — 订阅订单\n"
              "/unsubscribe … — 取消订阅\n/late [页码] — 我负责范围内的延误订单\n/timezone [时区] — 查看或设置显示时间用的时区",
        "en": "Staff commands:\n/order ORDER — look at an order\n/advance ORDER NODE [note] — move it on\n"
              "/exception ORDER KIND [note] — flag a problem\n/ack ORDER [N|all] — acknowledge an exception\n"
              "/resolve ORDER [N|all] [note] — resolve one\n"
              "/rework ORDER NODE REASON — send it back to an earlier node\n"
              "/subscribe exceptions [department|node] — exception pushes\n"
              "/subscribe ORDER — follow an order\n/unsubscribe … — stop\n/late [PAGE] — late orders in your scope\n"
              "/timezone [ZONE] — the time zone times are shown to you in",
    },
    "fallback": {
        "zh": "抱歉，我只会回答订单相关的问题。发送订单号查进度，或发送“帮助”看看我能做什么。",
        "en": "Sorry, I can only help with orders. Send an order number to track it, or \"help\" to see what I "
              "can do.",
    },
    "fallback.offer": {
        "zh": "抱歉，我没看懂这句话。我可以帮您查订单进度、列出您的订单，或请人工客服来回复您：",
        "en": "Sorry, I didn't understand that. I can track an order, list your orders or pass you to a "
              "person:",
    },
    "fallback.handover": {
        "zh": "我还是没看懂，这就帮您转人工客服。",
        "en": "I still don't understand, so I'm passing you to a person.",
    },
    "text_only": {
        "zh": "我目前只能读文字消息，请直接输入订单号或您的问题。",
        "en": "I can read text messages only: please type your order number or question.",
    },
    "rate_limited": {"zh": "请求太频繁了，请稍后再试。", "en": "Too many requests, please try again later."},
    "timezone.now": {
        "zh": "给您看的时间按 {zone} 显示（那里现在 {time}）。要改，发送 /timezone 时区，例如 /timezone Asia/Shanghai。",
        "en": "Times are shown to you in {zone} (it is {time} there). To change it, send /timezone ZONE, "
              "e.g. /timezone Europe/London.",
    },
    "timezone.set": {
        "zh": "好的，之后给您看的时间都按 {zone} 显示（那里现在 {time}）。",
        "en": "Done: times are shown to you in {zone} from now on (it is {time} there).",
    },
    "timezone.unknown": {
        "zh": "不认识时区 {zone}。请用“地区/城市”的写法，例如 Asia/Shanghai、Europe/Berlin、America/New_York。",
        "en": "I don't know the time zone {zone}. Use Region/City, e.g. Asia/Shanghai, Europe/Berlin, "
              "America/New_York.",
    },
    "group.private_only": {
        "zh": "订单信息请私聊我查询。", "en": "Please message me privately to look up an order.",
    },
    # ------------------------------------------------------------ verification
    "verify.code_sent": {
        "zh": "如果订单 {order_no} 存在并留有联系方式，我们已把 6 位验证码发送过去（10 分钟内有效）。"
              "请把验证码回复给我，验证后即可查看进度。",
        "en": "If order {order_no} exists and has a contact on file, a 6-digit code has been sent to it (valid "
              "for 10 minutes). Reply with the code to see the order's progress.",
    },
    "verify.wrong": {
        "zh": "验证码不正确，还可以再试 {left} 次。", "en": "That code is not right; {left} tries left.",
    },
    "verify.wrong.one": {
        "zh": "验证码不正确，还可以再试 {left} 次。", "en": "That code is not right; {left} try left.",
    },
    "verify.code_length": {
        "zh": "验证码是 6 位数字，请核对后再发一次（这次不算错误）。",
        "en": "Codes have 6 digits: please check it and send it again (this one does not count as a wrong try).",
    },
    "verify.expired": {
        "zh": "验证码已过期。请重新发送订单号，获取新的验证码。",
        "en": "That code has expired. Send the order number again for a new one.",
    },
    "verify.unexpected": {
        "zh": "我现在没有在等验证码。请先告诉我订单号。",
        "en": "I'm not expecting a code right now. Tell me your order number first.",
    },
    "verify.locked": {
        "zh": "验证码错误次数过多，本会话已锁定，请 {wait}后再试。",
        "en": "Too many wrong codes: this chat is locked; try again in {wait}.",
    },
    # No "code"/"验证码" in a message that shows progress: people skim for the word and stop.
    "verify.ok": {"zh": "验证成功，以后在此会话查询这个订单无需再次验证。",
                  "en": "Verified: this chat can see this order from now on, no need to verify again."},
    "verify.too_many_codes": {
        "zh": "验证码已经发过几次了，请使用邮件里最新的一封，或 1 小时后再试。",
        "en": "Several codes have been sent already: use the newest one in your mail, or try again in an hour.",
    },
    "verify.stopped": {
        "zh": "为保护订单 {order_no}，验证码错误次数过多，验证码验证已暂停。请联系卖家恢复，"
              "或在已绑定的聊天中发送 /reopen {order_no}。",
        "en": "To protect order {order_no}, codes have stopped after too many wrong ones. Ask the seller to "
              "reopen them, or send /reopen {order_no} from a chat already linked to it.",
    },
    "verify.confirm_change": {
        "zh": "为确认是您本人提出的要求，请先完成验证。",
        "en": "To make sure this request is really yours, please verify first.",
    },
    "reopen.ok": {"zh": "已恢复订单 {order_no} 的验证码验证。", "en": "Codes for order {order_no} work again."},
    "reopen.none": {"zh": "订单 {order_no} 的验证码验证没有暂停。", "en": "Codes for order {order_no} had not stopped."},
    "console.link": {"zh": "订单后台登录链接（5 分钟内有效，只能用一次）：\n{url}",
                     "en": "Your sign-in link to the order desk (works once, within 5 minutes):\n{url}"},
    "console.in_group": {"zh": "为了安全，请私聊我发送 /console 获取后台登录链接。",
                         "en": "For safety, send /console to me in a private chat to get your sign-in link."},
    "console.mail_subject": {"zh": "订单后台登录链接", "en": "Your sign-in link to the order desk"},
    "console.mail_body": {
        "zh": "{name}，您好：\n\n点开下面的链接登录订单后台（5 分钟内有效，只能用一次）：\n\n    {url}\n\n"
              "如果不是您本人申请的，请忽略本邮件。\n",
        "en": "Hello {name},\n\nOpen this link to sign in to the order desk (it works once, within 5 minutes):\n\n"
              "    {url}\n\nIf you did not ask for it, ignore this mail.\n"},
    "verify.mail_subject": {"zh": "订单查询验证码 {code}", "en": "Your order lookup code {code}"},
    "verify.mail_body": {
        "zh": "您好，\n\n有人（可能是您本人）想查看订单 {order_no} 的进度。验证码：\n\n    {code}\n\n"
              "10 分钟内有效。如果不是您本人操作，请忽略本邮件。\n",
        "en": "Hello,\n\nSomeone, probably you, asked to see the progress of order {order_no}. The code is:\n\n"
              "    {code}\n\nIt is valid for 10 minutes. If this was not you, ignore this mail.\n",
    },
    "bind.ok": {
        "zh": "已绑定订单 {order_no}，以后在此会话可直接查看它的进度。发送“退出”可解除绑定。",
        "en": "Linked to order {order_no}: this chat can see its progress from now on. Send \"logout\" to unlink.",
    },
    "bind.taken": {
        "zh": "这个链接已在另一个聊天中使用过。",
        "en": "This link has been used in another chat already.",
    },
    "bind.invalid": {
        "zh": "这个绑定链接无效或已过期。请直接发送订单号查询。",
        "en": "This link is not valid or has expired. Send your order number instead.",
    },
    "unbind.ok": {"zh": "已解除绑定。", "en": "Done: this chat is no longer linked."},
    "unbind.none": {"zh": "当前没有绑定任何客户。", "en": "This chat is not linked to anyone."},
    # ------------------------------------------------------------ tracking
    "track.ask_order": {
        "zh": "请告诉我订单号（例如 SO202611240042）或快递单号。",
        "en": "Which order? Send its number (e.g. SO202611240042) or a tracking number.",
    },
    "track.no_orders": {"zh": "目前没有查到您的订单。", "en": "I found no orders of yours."},
    "track.choose": {"zh": "您有 {n} 个订单，要查哪一个？", "en": "You have {n} orders. Which one?"},
    "track.did_you_mean": {
        "zh": "没有找到 {ref}。您是想查 {suggestion} 吗？", "en": "I can't find {ref}. Did you mean {suggestion}?",
    },
    "track.not_found_staff": {
        "zh": "没有找到 {ref}，或者它不在您的查看范围内。", "en": "No order {ref}, or it is not one you may see.",
    },
    "track.list_header": {"zh": "您的订单：", "en": "Your orders:"},
    # ------------------------------------------------------------ requests
    "request.ask_order": {
        "zh": "好的，请告诉我是哪个订单（订单号）。", "en": "Sure. Which order is it about? Send its number.",
    },
    "request.recorded": {
        "zh": "已记录您关于订单 {order_no} 的{kind}请求，由 {owner} 跟进，处理后会回复您。",
        "en": "Your {kind} request for order {order_no} is recorded. {owner} has it and will get back to you.",
    },
    "request.kind.expedite": {"zh": "催单", "en": "rush"},
    "request.kind.change_request": {"zh": "修改/取消", "en": "change"},
    "request.kind.after_sales": {"zh": "售后", "en": "after-sales"},
    "request.kind.human_agent": {"zh": "人工客服", "en": "talk-to-a-person"},
    "request.owner.team": {"zh": "我们的同事", "en": "our team"},
    # ------------------------------------------------------------ a person has the conversation
    "handover.claimed": {
        "zh": "客服 {staff} 已接手您关于订单 {order_no} 的对话，您接下来发的消息会直接转给 {staff}。",
        "en": "{staff} from our team has taken over your conversation about order {order_no}. What you write "
              "next goes straight to {staff}.",
    },
    "handover.reply": {"zh": "客服 {staff}：{text}", "en": "{staff} (our team): {text}"},
    "handover.closed": {
        "zh": "客服 {staff} 已结束关于订单 {order_no} 的对话，对话已交回订单助手。您可以随时发订单号查询进度。",
        "en": "{staff} has finished the conversation about order {order_no}; you are talking to the order "
              "assistant again. Send an order number any time to see where it is.",
    },
    "handover.passed": {
        "zh": "已转给客服 {name}，请在这里等候回复。", "en": "Passed on to {name}, who will answer you here.",
    },
    # ------------------------------------------------------------ subscriptions
    "sub.order": {
        "zh": "已订阅订单 {order_no}：有进展时通知您。", "en": "Subscribed: I'll tell you when {order_no} moves on.",
    },
    "sub.all": {"zh": "已订阅您全部订单的进度通知。", "en": "Subscribed to news of all your orders."},
    "sub.exceptions": {"zh": "已订阅异常推送（{scope}）。", "en": "Subscribed to exception pushes ({scope})."},
    "sub.scope.all": {"zh": "全部", "en": "all"},
    "sub.scope.node": {"zh": "节点「{node}」", "en": "step {node}"},
    "sub.scope.department": {"zh": "部门 {department}", "en": "department {department}"},
    "unsub.done": {"zh": "已取消 {n} 项订阅。", "en": "Removed {n} subscription(s)."},
    "unsub.none": {"zh": "没有可取消的订阅。", "en": "There was nothing to unsubscribe."},
    "sub.need_bind": {
        "zh": "请先发送订单号完成验证，再订阅通知。", "en": "Send an order number and verify first; then I can notify you.",
    },
    # ------------------------------------------------------------ staff commands
    "staff.usage": {"zh": "用法：{usage}", "en": "Usage: {usage}"},
    # What a command takes, as the reader calls it (shown after 用法 / Usage).
    "usage.order": {"zh": "/order 订单号", "en": "/order ORDER"},
    "usage.reopen": {"zh": "/reopen 订单号", "en": "/reopen ORDER"},
    "usage.advance": {"zh": "/advance 订单号 节点 [备注]", "en": "/advance ORDER NODE [note]"},
    "usage.exception": {"zh": "/exception 订单号 {kinds} [备注]", "en": "/exception ORDER {kinds} [note]"},
    "usage.ack": {"zh": "/ack 订单号 [序号|#编号|全部]", "en": "/ack ORDER [N|#ID|all]"},
    "usage.resolve": {"zh": "/resolve 订单号 [序号|#编号|全部] [备注]", "en": "/resolve ORDER [N|#ID|all] [note]"},
    "usage.rework": {"zh": "/rework 订单号 节点 原因", "en": "/rework ORDER NODE REASON"},
    "usage.late": {"zh": "/late [页码]", "en": "/late [PAGE]"},
    "usage.subscribe": {
        "zh": "/subscribe exceptions [部门|节点] | /subscribe 订单号 | /subscribe all",
        "en": "/subscribe exceptions [department|node] | /subscribe ORDER | /subscribe all",
    },
    "staff.not_allowed": {"zh": "您无权对订单 {order_no} 执行此操作。", "en": "You may not do that to order {order_no}."},
    "staff.advanced": {
        "zh": "订单 {order_no}：{from_node} → {to_node}{replayed}", "en": "Order {order_no}: {from_node} → {to_node}{replayed}",
    },
    "staff.replayed": {"zh": "（已记录过）", "en": " (already recorded)"},
    "staff.refused": {"zh": "没有执行：{reason}", "en": "Not done: {reason}"},
    # The engine's refusals, by reason (models/errors.py); node keys in them are shown by name.
    "refusal.unknown_order": {"zh": "没有订单 {order_no}。", "en": "There is no order {order_no}."},
    "refusal.unknown_node": {
        "zh": "流程里没有节点“{word}”。可用的节点：{nodes}。",
        "en": "The workflow has no step \"{word}\". Steps: {nodes}.",
    },
    "refusal.already_at": {
        "zh": "订单 {order_no} 已在「{at}」，退回「{to}」只能作为返工，并写明原因。",
        "en": "Order {order_no} is already at {at}; going back to {to} is only possible as rework, with a reason.",
    },
    "refusal.not_skippable": {
        "zh": "订单 {order_no} 在「{at}」，不能跳过「{skipped}」直接到「{to}」。",
        "en": "Order {order_no} is at {at} and cannot skip {skipped} to reach {to}.",
    },
    "refusal.rework_not_back": {
        "zh": "返工是把订单退回前面的节点；订单 {order_no} 在「{at}」，还没有过「{to}」。",
        "en": "Rework moves an order back; order {order_no} is at {at}, not past {to}.",
    },
    "refusal.rework_needs_reason": {"zh": "返工需要写明原因。", "en": "Rework needs a reason."},
    "refusal.node_gone": {
        "zh": "订单 {order_no} 所在的节点 {at} 已不在流程中，请联系管理员。",
        "en": "Order {order_no} stands at {at}, which its workflow no longer has: ask an administrator.",
    },
    "refusal.workflow_gone": {
        "zh": "订单 {order_no} 的流程 {workflow} 已不在流程文件中，请联系管理员。",
        "en": "Order {order_no} uses workflow {workflow}, which the workflows file no longer has: ask an "
              "administrator.",
    },
    "refusal.unknown_kind": {
        "zh": "没有“{word}”这种异常类型。可用的类型：{kinds}。",
        "en": "There is no exception kind \"{word}\". Kinds: {kinds}.",
    },
    "refusal.unknown_exception": {
        "zh": "订单 {order_no} 没有异常 #{id}。", "en": "Order {order_no} has no exception #{id}.",
    },
    "refusal.event_reused": {
        "zh": "这条消息已用于订单 {order_no} 的另一项操作（{event_id}）。",
        "en": "This message was already used for another change on order {order_no} ({event_id}).",
    },
    "refusal.order_exists": {
        "zh": "订单 {order_no} 已存在，且内容不同。", "en": "Order {order_no} exists already, with different data.",
    },
    "refusal.order_no_too_long": {"zh": "订单号最多 {most} 个字符。", "en": "Order numbers have at most {most} characters."},
    "refusal.order_no_pattern": {
        "zh": "订单号 {order_no} 不符合本系统的编号规则。", "en": "Order number {order_no} does not follow this system's pattern.",
    },
    "refusal.unknown_workflow": {"zh": "没有流程 {workflow}。", "en": "There is no workflow {workflow}."},
    "refusal.name_required": {"zh": "客户名称不能为空。", "en": "The customer's name cannot be empty."},
    "refusal.in_future": {"zh": "时间不能晚于现在一天以上。", "en": "That time is more than a day in the future."},
    "refusal.bad_request": {"zh": "请求有误。", "en": "That request is not right."},
    "refusal.invalid_field": {"zh": "输入有误。", "en": "Something in that is not right."},
    "refusal.not_found": {"zh": "没有找到。", "en": "Not found."},
    "refusal.conflict": {"zh": "与已有的记录冲突。", "en": "That conflicts with what is recorded already."},
    "refusal.workflow_violation": {"zh": "流程不允许这样做。", "en": "The workflow does not allow that."},
    "staff.exception_opened": {
        "zh": "已登记订单 {order_no} 的异常 #{id}：{kind}。", "en": "Exception #{id} ({kind}) opened on {order_no}.",
    },
    "staff.acked": {"zh": "已确认订单 {order_no} 的 {n} 个异常。", "en": "Acknowledged {n} exception(s) on {order_no}."},
    "staff.resolved": {"zh": "已解决订单 {order_no} 的 {n} 个异常。", "en": "Resolved {n} exception(s) on {order_no}."},
    "staff.no_open": {"zh": "订单 {order_no} 没有未解决的异常。", "en": "Order {order_no} has no open exception."},
    "staff.late_header": {"zh": "延误订单（共 {n} 个）：", "en": "Late orders ({n}):"},
    "staff.late_none": {"zh": "您的范围内没有延误订单。", "en": "No late orders in your scope."},
    "staff.late_page_next": {
        "zh": "第 {page}/{pages} 页，发送 /late {next} 看下一页",
        "en": "Page {page} of {pages} — send /late {next} for the next",
    },
    "staff.late_page_last": {"zh": "第 {page}/{pages} 页（最后一页）", "en": "Page {page} of {pages} (the last)"},
    "staff.late_no_page": {
        "zh": "延误订单只有 {pages} 页，发送 /late 看第 1 页。",
        "en": "Late orders fill {pages} page(s); send /late for the first.",
    },
    "button.next_page": {"zh": "下一页", "en": "Next page"},
    "staff.unknown_command": {
        "zh": "不认识的命令 {command}。发送 /help 查看命令。", "en": "Unknown command {command}. Send /help for the list.",
    },
    # ------------------------------------------------------------ staff: naming one exception, rework
    "staff.pick.ack": {
        "zh": "订单 {order_no} 有 {n} 个未确认的异常，请选一个：\n{lines}\n发送 /{command} {order_no} 序号（或 #编号），"
              "或 /{command} {order_no} 全部。",
        "en": "Order {order_no} has {n} unacknowledged exceptions. Which one?\n{lines}\nSend /{command} {order_no} "
              "NUMBER (or #ID), or /{command} {order_no} all.",
    },
    "staff.pick.resolve": {
        "zh": "订单 {order_no} 有 {n} 个未解决的异常，请选一个：\n{lines}\n发送 /{command} {order_no} 序号（或 #编号）"
              " [备注]，或 /{command} {order_no} 全部 [备注]。",
        "en": "Order {order_no} has {n} unresolved exceptions. Which one?\n{lines}\nSend /{command} {order_no} "
              "NUMBER (or #ID) [note], or /{command} {order_no} all [note].",
    },
    "staff.pick.none": {
        "zh": "订单 {order_no} 没有待处理的异常 {which}。现有 {n} 个：\n{lines}\n发送 /{command} {order_no} 序号（或 #编号），"
              "或 /{command} {order_no} 全部。",
        "en": "Order {order_no} has no pending exception {which}. It has these {n}:\n{lines}\nSend /{command} "
              "{order_no} NUMBER (or #ID), or /{command} {order_no} all.",
    },
    "staff.pick.line": {
        "zh": "{i}. {kind} · {node} · {age}前 · #{id}", "en": "{i}. {kind} · {node} · {age} ago · #{id}",
    },
    "staff.pick.all": {"zh": "全部", "en": "All"},
    "staff.acked_one": {
        "zh": "已确认订单 {order_no} 的异常 #{id}（{kind}）。", "en": "Acknowledged exception #{id} ({kind}) on {order_no}.",
    },
    "staff.resolved_one": {
        "zh": "已解决订单 {order_no} 的异常 #{id}（{kind}）。", "en": "Resolved exception #{id} ({kind}) on {order_no}.",
    },
    "staff.reworked": {
        "zh": "订单 {order_no} 返工：{from_node} → {to_node}，原因：{reason}{replayed}",
        "en": "Order {order_no} sent back for rework: {from_node} → {to_node}, because: {reason}{replayed}",
    },
    "staff.rework_reason": {
        "zh": "返工要写明原因，例如：/rework {order_no} {node} 焊点不良", "en": "Rework needs a reason, e.g. "
              "/rework {order_no} {node} weld defects",
    },
    "staff.rework_node": {
        "zh": "订单 {order_no} 现在在「{node}」，返工只能退回到它之前的节点：{nodes}",
        "en": "Order {order_no} is at {node}; rework sends it back to a node before that: {nodes}",
    },
    "button.subscribe": {"zh": "订阅进度", "en": "Notify me"},
    "button.subscribe.data": {"zh": "订阅 {order_no}", "en": "subscribe {order_no}"},
    "button.human": {"zh": "转人工", "en": "Talk to a person"},
    "button.human.data": {"zh": "转人工 {order_no}", "en": "talk to a person about {order_no}"},
    "button.track": {"zh": "查订单", "en": "Track an order"},
    "button.my_orders": {"zh": "我的订单", "en": "My orders"},
    "button.help": {"zh": "帮助", "en": "Help"},
    # ------------------------------------------------------------ the order card
    "card.order": {"zh": "订单 {order_no}", "en": "Order {order_no}"},
    "card.now": {"zh": "当前：{node}（{since} 起）", "en": "Now: {node} (since {since})"},
    "card.eta": {"zh": "预计送达：{eta}", "en": "Expected: {eta}"},
    "card.delivered": {"zh": "已签收：{at}", "en": "Delivered: {at}"},
    "card.promised": {"zh": "承诺交期：{date}", "en": "Promised: {date}"},
    "card.late": {"zh": "⚠️ 已晚于承诺交期", "en": "⚠️ Late: past the promised date"},
    "card.progress": {"zh": "进度：{steps}", "en": "Progress: {steps}"},
    "card.shipment": {"zh": "物流：{carrier} {tracking_no}", "en": "Shipment: {carrier} {tracking_no}"},
    "card.held_up": {"zh": "卡在：{reasons}", "en": "Held up by: {reasons}"},
    "card.amount": {"zh": "金额：{amount} {currency}", "en": "Amount: {amount} {currency}"},
    "card.cost": {"zh": "成本：{cost}　毛利：{profit}", "en": "Cost: {cost}  Profit: {profit}"},
    "card.supplier": {"zh": "供应商：{supplier}", "en": "Supplier: {supplier}"},
    "card.contact": {"zh": "联系人：{name} {phone} {email}", "en": "Contact: {name} {phone} {email}"},
    "card.ship_to": {"zh": "收货地址：{address}", "en": "Ship to: {address}"},
    "card.owner": {"zh": "销售：{owner}", "en": "Sales: {owner}"},
    "person.named": {"zh": "{name}（{code}）", "en": "{name} ({code})"},
    # ------------------------------------------------------------ notices (the bot speaks first)
    "notice.node": {"zh": "📦 您的订单 {order_no} 有新进展：{node}", "en": "📦 Your order {order_no} has reached: {node}"},
    "notice.node.staff": {"zh": "📦 订单 {order_no} 进入「{node}」", "en": "📦 Order {order_no} is now at: {node}"},
    "notice.shipment": {"zh": "快递：{carrier} {tracking_no}", "en": "Shipment: {carrier} {tracking_no}"},
    "notice.eta": {"zh": "预计送达：{eta}", "en": "Expected: {eta}"},
    "notice.eta_changed": {
        "zh": "🕒 订单 {order_no} 的预计送达时间有变：{previous} → {eta}",
        "en": "🕒 The expected arrival of order {order_no} moved: {previous} → {eta}",
    },
    "notice.late": {
        "zh": "⏰ 抱歉，订单 {order_no} 已晚于承诺日期（{promised}），目前在「{node}」。我们正在跟进。",
        "en": "⏰ Sorry: order {order_no} is late (promised for {promised}); it is now at {node}. We are on it.",
    },
    "notice.late.staff": {
        "zh": "⏰ 延误：订单 {order_no} 承诺 {promised} 交付，仍在「{node}」。",
        "en": "⏰ Late: order {order_no} was promised for {promised} and is still at {node}.",
    },
    "notice.overdue": {
        "zh": "⏰ 超时：订单 {order_no} 在「{node}」已停留 {stayed}，超过时限 {limit}。",
        "en": "⏰ Overdue: order {order_no} has been at {node} for {stayed}, past its limit of {limit}.",
    },
    "notice.exception_opened": {
        "zh": "⚠️ 异常：订单 {order_no}（{node}）{kind}",
        "en": "⚠️ Exception on order {order_no} ({node}): {kind}",
    },
    "notice.exception_resolved": {
        "zh": "✅ 已解决：订单 {order_no} 的异常（{kind}）",
        "en": "✅ Resolved: the exception on order {order_no} ({kind})",
    },
    "notice.escalated": {
        "zh": "🔺 升级：订单 {order_no} 的异常（{kind}，{node}）已{waited}无人确认",
        "en": "🔺 Escalated: nobody has acknowledged the exception on order {order_no} ({kind}, {node}) "
              "for {waited}",
    },
    "notice.note": {"zh": "备注：{note}", "en": "Note: {note}"},
    "notice.request_message": {
        "zh": "💬 客户 {customer}（订单 {order_no}）：{text}", "en": "💬 {customer} (order {order_no}): {text}",
    },
    "notice.customer_request": {
        "zh": "📨 客户 {customer} 就订单 {order_no} 提出{kind}：{text}",
        "en": "📨 {customer} asks for a {kind} on order {order_no}: {text}",
    },
    "notice.verification_locked": {
        "zh": "🔒 有人在 {channel} 为订单 {order_no} 连续输错 {tries} 次验证码，该会话已锁定{wait}。",
        "en": "🔒 Someone on {channel} entered {tries} wrong codes for order {order_no}; that chat is locked for "
              "{wait}.",
    },
    "notice.verification_stopped": {
        "zh": "⛔ 订单 {order_no} 的验证码 24 小时内被输错 {tries} 次（最近一次在 {channel}），验证码验证已暂停。"
              "确认安全后发送 /reopen {order_no} 恢复。",
        "en": "⛔ {tries} wrong codes for order {order_no} within 24 hours (the last on {channel}): codes for it "
              "have stopped. Send /reopen {order_no} once you are sure it is safe.",
    },
    "notice.open": {"zh": "查看详情：{url}", "en": "Details: {url}"},
    "notice.digest": {"zh": "订单 {order_no} 有 {n} 条更新：", "en": "{n} updates on order {order_no}:"},
    "notice.ack": {"zh": "收到", "en": "Ack"},
    # ------------------------------------------------------------ durations (bot.conversation.durations)
    "duration.day": {"zh": "{n}天", "en": "{n} day"},
    "duration.days": {"zh": "{n}天", "en": "{n} days"},
    "duration.hour": {"zh": "{n}小时", "en": "{n} hour"},
    "duration.hours": {"zh": "{n}小时", "en": "{n} hours"},
    "duration.minute": {"zh": "{n}分钟", "en": "{n} minute"},
    "duration.minutes": {"zh": "{n}分钟", "en": "{n} minutes"},
    "duration.join": {"zh": "{first}{second}", "en": "{first} {second}"},
    "duration.under_a_minute": {"zh": "不到1分钟", "en": "under a minute"},
    # ------------------------------------------------------------ staff digests across orders, the daily summary
    "notice.roundup.late": {"zh": "⏰ 延误：{n} 张订单已过承诺日期", "en": "⏰ Late: {n} orders are past their promised date"},
    "notice.roundup.late.line": {
        "zh": "· {order_no} — 承诺 {promised}，仍在「{node}」",
        "en": "· {order_no} — promised for {promised}, still at {node}",
    },
    "notice.roundup.overdue": {
        "zh": "⏰ 超时：{n} 张订单超过节点时限", "en": "⏰ Overdue: {n} orders are past their node's time limit",
    },
    "notice.roundup.overdue.line": {
        "zh": "· {order_no} — 在「{node}」已停留 {stayed}（时限 {limit}）",
        "en": "· {order_no} — at {node} for {stayed} (limit {limit})",
    },
    "notice.roundup.escalated": {
        "zh": "🔺 升级：{n} 个异常无人确认", "en": "🔺 Escalated: {n} exceptions nobody has acknowledged",
    },
    "notice.roundup.escalated.line": {
        "zh": "· {order_no} — {kind}（{node}），已{waited}", "en": "· {order_no} — {kind} ({node}), for {waited}",
    },
    "notice.more": {"zh": "…另有 {n} 张", "en": "… and {n} more"},
    "notice.ack_order": {"zh": "收到 {order_no}", "en": "Ack {order_no}"},
    "notice.summary": {"zh": "📋 每日汇总（{date}）", "en": "📋 Daily summary ({date})"},
    "notice.summary.late": {"zh": "⏰ 延误订单 {n} 张：", "en": "⏰ {n} late orders:"},
    "notice.summary.exceptions": {"zh": "⚠️ 未解决的异常 {n} 个：", "en": "⚠️ {n} open exceptions:"},
    "notice.summary.exception": {
        "zh": "· {order_no} — {kind}（{node}），已开启{age}", "en": "· {order_no} — {kind} ({node}), open for {age}",
    },
    # ------------------------------------------------------------ an update on the node the order is at
    "staff.updated": {
        "zh": "订单 {order_no}：{node}：已更新{replayed}", "en": "Order {order_no}: {node}: updated{replayed}",
    },
    "staff.updated.note": {
        "zh": "订单 {order_no}：{node}：更新 — {note}{replayed}", "en": "Order {order_no}: {node}: update — {note}{replayed}",
    },
}


def t(key: str, locale: str, **values: object) -> str:
    """The sentence ``key`` in ``locale`` (Chinese for any zh-*, else English)."""
    lang = "zh" if locale.lower().startswith("zh") else "en"
    return TEXTS[key][lang].format(**values)


def refusal(err: EngineError, locale: str, wf: Workflow | None = None,
            kinds: Mapping[str, tuple[str, str]] | None = None) -> str:
    """An engine refusal in ``locale``: node keys as ``wf``'s node names, exception kinds by name (key)."""
    zh = locale.lower().startswith("zh")
    sep = "、" if zh else ", "

    def node(key: str) -> str:
        return wf.node(key).name(locale) if wf is not None and wf.has(key) else key

    def shown(name: str, value: Any) -> Any:
        if name in NODE_PARAMS:
            return sep.join(map(node, value)) if isinstance(value, list) else node(value)
        if name == "kinds":
            names = {k: (kinds or {}).get(k, (k, k))[0 if zh else 1] for k in value}
            return sep.join(f"{n}（{k}）" if zh else f"{n} ({k})" for k, n in names.items())
        return value

    values = {name: shown(name, value) for name, value in err.params.items()}
    key = f"refusal.{err.reason}"
    return t(key if key in TEXTS else f"refusal.{err.code}", locale, **values)


def person(code: str, names: Mapping[str, str], locale: str) -> str:
    """A staff member as people know them: 王芳（S002）; the bare code when nobody has it."""
    name = names.get(code.strip().upper())
    return t("person.named", locale, name=name, code=code) if name else code


def placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}

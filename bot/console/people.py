"""People: the staff list, adding and editing members, binding chat identities, disabling (with
what they hold listed for reassignment), and, for admins, API keys.

Managers and admins see this page. Only an admin may make or change an admin, or touch API
keys; nobody may disable themselves (a company must not lock its last admin out by a slip).
Every change goes through ``models/staffing.py`` (one transaction, one ``action_log`` row),
the same code the CLI's ``orderbot staff ...`` runs.
"""
from __future__ import annotations

from urllib.parse import quote

from aiohttp import web

from bot.console.common import actor, console, lang, now, not_found, render, staff_action, staff_page
from bot.console.words import add
from models import apikeys, console as sessions, staffing
from models.errors import Conflict, EngineError, InvalidInput, NotFound
from models.people import Role, StaffMember, add_staff

MANAGERS = (Role.ADMIN, Role.MANAGER)
BIND_CHANNELS = ("telegram", "wechat", "email", "wecom", "dingtalk")

add({
    "people.title": {"zh": "人员", "en": "People"},
    "people.add": {"zh": "添加人员", "en": "Add a member"},
    "people.name": {"zh": "姓名", "en": "Name"},
    "people.code": {"zh": "工号", "en": "Code"},
    "people.code_hint": {"zh": "订单上的“业务员”填的就是工号；不填则自动生成。", "en": "Orders name their sales owner by this code; made up when left empty."},
    "people.role": {"zh": "角色", "en": "Role"},
    "people.department": {"zh": "部门", "en": "Department"},
    "people.email": {"zh": "工作邮箱", "en": "Work e-mail"},
    "people.locale": {"zh": "语言", "en": "Language"},
    "people.identities": {"zh": "已绑定的聊天账号", "en": "Chat accounts"},
    "people.none_bound": {"zh": "还没有绑定聊天账号", "en": "No chat account yet"},
    "people.status": {"zh": "状态", "en": "Status"},
    "people.active": {"zh": "在职", "en": "Active"},
    "people.disabled": {"zh": "已停用", "en": "Disabled"},
    "people.edit": {"zh": "修改资料", "en": "Edit"},
    "people.save": {"zh": "保存", "en": "Save"},
    "people.bind": {"zh": "绑定聊天账号", "en": "Bind a chat account"},
    "people.bind_id": {"zh": "账号 ID", "en": "Account id"},
    "people.bind_go": {"zh": "绑定", "en": "Bind"},
    "people.unbind": {"zh": "解绑", "en": "Unbind"},
    "people.disable": {"zh": "停用此人", "en": "Disable"},
    "people.disable_why": {"zh": "停用后，此人的聊天命令、后台登录和推送立即停止。", "en": "Their chat commands, console sessions and pushes stop at once."},
    "people.enable": {"zh": "重新启用", "en": "Enable again"},
    "people.holdings": {"zh": "需要转交的工作", "en": "Work to hand on"},
    "people.holdings_none": {"zh": "此人名下没有在途订单和待处理请求。", "en": "They own no order under way and no open request."},
    "people.orders_held": {"zh": "名下在途订单 {n} 个", "en": "{n} order(s) under way"},
    "people.exceptions_held": {"zh": "这些订单上未解决的异常 {n} 个", "en": "{n} unresolved exception(s) on them"},
    "people.requests_held": {"zh": "分配给此人的客户请求 {n} 个", "en": "{n} customer request(s) assigned to them"},
    "people.reassign": {"zh": "全部转交给", "en": "Hand all of it to"},
    "people.reassign_go": {"zh": "转交", "en": "Hand on"},
    "people.sessions": {"zh": "后台登录中的设备 {n} 个", "en": "{n} signed-in browser(s)"},
    "people.end_sessions": {"zh": "让这些设备全部退出", "en": "Sign them all out"},
    "people.back": {"zh": "返回人员列表", "en": "Back to people"},
    "people.you": {"zh": "（您）", "en": " (you)"},
    "people.done.saved": {"zh": "已保存。", "en": "Saved."},
    "people.done.added": {"zh": "已添加。", "en": "Added."},
    "people.done.disabled": {"zh": "已停用：此人的聊天命令、后台登录和推送已停止。", "en": "Disabled: their chat commands, console sessions and pushes have stopped."},
    "people.done.enabled": {"zh": "已重新启用。", "en": "Enabled again."},
    "people.done.bound": {"zh": "已绑定。", "en": "Bound."},
    "people.done.unbound": {"zh": "已解绑。", "en": "Unbound."},
    "people.done.reassigned": {"zh": "已转交。", "en": "Handed on."},
    "people.done.signed_out": {"zh": "已让这些设备退出。", "en": "Those browsers are signed out."},
    "people.err.name": {"zh": "请填写姓名（最多 100 字）。", "en": "Please give a name (100 characters at most)."},
    "people.err.code": {"zh": "工号只能是 1 到 32 个字母或数字。", "en": "A code is 1 to 32 letters or digits."},
    "people.err.code_taken": {"zh": "这个工号已经有人用了。", "en": "Someone has this code already."},
    "people.err.email": {"zh": "邮箱地址不对。", "en": "That is not an e-mail address."},
    "people.err.role": {"zh": "请选择一个角色。", "en": "Please pick a role."},
    "people.err.identity": {"zh": "请选择渠道并填写账号 ID。", "en": "Pick a channel and give the account id."},
    "people.err.bound_elsewhere": {"zh": "这个聊天账号已经属于别人。", "en": "That chat account belongs to someone else."},
    "people.err.to": {"zh": "请选一位在职的同事来接手。", "en": "Pick an active colleague to take it over."},
    "people.err.admin_only": {"zh": "只有管理员能设置或修改管理员。", "en": "Only an admin may make or change an admin."},
    "people.err.self": {"zh": "不能停用自己。", "en": "You cannot disable yourself."},
    "people.err.other": {"zh": "没能保存：{why}", "en": "Not saved: {why}"},
    "keys.title": {"zh": "API 密钥", "en": "API keys"},
    "keys.hint": {"zh": "给 ERP 等系统调用接口用。密钥只在创建时显示一次。", "en": "For an ERP or script calling the API. A key is shown only once, when it is made."},
    "keys.name": {"zh": "用途", "en": "Used by"},
    "keys.scopes": {"zh": "权限", "en": "Scopes"},
    "keys.starts": {"zh": "开头", "en": "Starts"},
    "keys.created": {"zh": "创建于", "en": "Created"},
    "keys.last_used": {"zh": "最近使用", "en": "Last used"},
    "keys.create": {"zh": "创建密钥", "en": "Create a key"},
    "keys.revoke": {"zh": "吊销", "en": "Revoke"},
    "keys.revoked": {"zh": "已吊销", "en": "Revoked"},
    "keys.shown_once": {"zh": "新密钥如下，请立即复制保存，离开本页后无法再次查看：", "en": "The new key is below. Copy it now: it cannot be shown again."},
    "keys.none": {"zh": "还没有 API 密钥。", "en": "No API keys yet."},
    "keys.err.name": {"zh": "请写明这个密钥给谁用（最多 100 字）。", "en": "Say who uses the key (100 characters at most)."},
    "keys.err.scopes": {"zh": "请至少选一项权限。", "en": "Pick at least one scope."},
    "keys.done.revoked": {"zh": "密钥已吊销，几秒内在所有进程生效。", "en": "The key is revoked; every process refuses it within seconds."},
})


def _error_key(e: EngineError) -> tuple[str, dict]:
    if isinstance(e, Conflict):
        return ("people.err.code_taken" if "code" in e.message else "people.err.bound_elsewhere"), {}
    if isinstance(e, InvalidInput) and e.field in ("name", "code", "email", "role", "identity", "to"):
        return f"people.err.{e.field}", {}
    return "people.err.other", {"why": e.message}


def _may_touch(me: StaffMember, target: StaffMember | None, role: str | None) -> bool:
    """Managers manage everyone but admins; only admins make or change admins."""
    if me.role == Role.ADMIN:
        return True
    return (target is None or target.role != Role.ADMIN) and role != Role.ADMIN.value


def _back(code: str, done: str) -> web.HTTPSeeOther:
    return web.HTTPSeeOther(f"/console/people/{quote(code)}?done={done}")


async def _list_page(request: web.Request, *, error: str | None = None, values: dict | None = None,
                     status: int = 200) -> web.Response:
    members = await StaffMember.all().order_by("-active", "code")
    bound = await staffing.identities([m.id for m in members])
    return render(request, "people.html", {"members": members, "bound": bound, "roles": [r.value for r in Role],
                                           "error": error, "form": values or {}}, status=status)


@staff_page(roles=MANAGERS)
async def people_list(request: web.Request) -> web.StreamResponse:
    return await _list_page(request)


@staff_action(roles=MANAGERS)
async def people_add(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    values = {k: str(form.get(k, "")).strip() for k in ("name", "role", "code", "department", "email", "telegram")}
    if not _may_touch(request["staff"], None, values["role"]):
        return await _list_page(request, error="people.err.admin_only", values=values, status=403)
    if values["role"] not in [r.value for r in Role]:
        return await _list_page(request, error="people.err.role", values=values, status=400)
    try:
        checked = staffing.clean({"name": values["name"], "email": values["email"] or None,
                                   **({"code": values["code"]} if values["code"] else {})})
        ids = {"telegram": values["telegram"]} if values["telegram"] else {}
        if checked.get("email"):
            ids["email"] = checked["email"]
        m = await add_staff(checked["name"], values["role"], checked.get("code"), values["department"] or None, ids,
                            checked.get("email"))
    except EngineError as e:
        key, _ = _error_key(e)
        return await _list_page(request, error=key, values=values, status=e.status)
    from models import audit

    await audit.acted(actor(request), "staff.add", f"staff:{m.code}", None,
                      {"name": m.name, "role": m.role.value, "department": m.department, "identities": list(ids)},
                      at=now(request))
    raise _back(m.code, "added")


async def _member_page(request: web.Request, m: StaffMember, *, error: str | None = None, values: dict | None = None,
                       status: int = 200) -> web.Response:
    engine = console(request).engine
    under_way = {wf.key: [n.key for n in wf.nodes[: wf.done_index]] for wf in engine.workflows.workflows.values()}
    held = await staffing.holdings(m.code, under_way)
    bound = (await staffing.identities([m.id])).get(m.id, [])
    colleagues = await StaffMember.filter(active=True).exclude(id=m.id).order_by("code")
    open_sessions = await sessions.open_sessions(m.id, now(request))
    done = request.query.get("done", "")
    return render(request, "person.html", {
        "m": m, "held": held, "bound": bound, "colleagues": colleagues, "roles": [r.value for r in Role],
        "channels": BIND_CHANNELS, "open_sessions": len(open_sessions), "error": error, "error_values": values or {},
        "done": f"people.done.{done}" if done in ("saved", "added", "disabled", "enabled", "bound", "unbound",
                                                  "reassigned", "signed_out") else None,
        "may_touch": _may_touch(request["staff"], m, None), "is_me": m.id == request["staff"].id,
        "node_name": lambda o: engine.workflows.get(o.workflow).node(o.current_node).name(lang(request))
        if engine.workflows.get(o.workflow) and engine.workflows.get(o.workflow).has(o.current_node) else o.current_node,
    }, status=status)


async def _target(request: web.Request) -> StaffMember | None:
    code = request.match_info["code"].strip().upper()
    return await StaffMember.filter(code=code).first() if len(code) <= 32 else None


@staff_page(roles=MANAGERS)
async def person(request: web.Request) -> web.StreamResponse:
    m = await _target(request)
    return not_found(request) if m is None else await _member_page(request, m)


def _member_action(name: str):
    """A post on one member: found, allowed, done through ``staffing``; errors shown on the member's page."""
    def wrap(work):
        @staff_action(roles=MANAGERS)
        async def run(request: web.Request) -> web.StreamResponse:
            m = await _target(request)
            if m is None:
                return not_found(request)
            form = await request.post()
            if not _may_touch(request["staff"], m, str(form.get("role", "")) or None):
                return await _member_page(request, m, error="people.err.admin_only", status=403)
            try:
                done = await work(request, m, form)
            except EngineError as e:
                key, values = _error_key(e)
                fresh = await _target(request) or m
                return await _member_page(request, fresh, error=key, values=values, status=e.status)
            if isinstance(done, web.StreamResponse):
                return done
            raise _back(done or m.code, name)
        run.__name__ = f"person_{name}"
        return run
    return wrap


@_member_action("saved")
async def person_edit(request: web.Request, m: StaffMember, form) -> str:
    changes = {k: str(form.get(k, "")) for k in ("name", "role", "department", "code", "email", "locale") if k in form}
    updated = await staffing.edit(m.code, changes, actor=actor(request), now=now(request))
    return updated.code


@_member_action("disabled")
async def person_disable(request: web.Request, m: StaffMember, form) -> str | web.StreamResponse:
    if m.id == request["staff"].id:
        return await _member_page(request, m, error="people.err.self", status=400)
    await staffing.set_active(m.code, False, actor=actor(request), now=now(request))
    return m.code


@_member_action("enabled")
async def person_enable(request: web.Request, m: StaffMember, form) -> str:
    await staffing.set_active(m.code, True, actor=actor(request), now=now(request))
    return m.code


@_member_action("bound")
async def person_bind(request: web.Request, m: StaffMember, form) -> str:
    channel, external = str(form.get("channel", "")), str(form.get("external_id", "")).strip()
    if channel not in BIND_CHANNELS or not external:
        raise InvalidInput("pick a channel and give the account id", field="identity")
    await staffing.bind(m.code, f"{channel}:{external}", actor=actor(request), now=now(request))
    return m.code


@_member_action("unbound")
async def person_unbind(request: web.Request, m: StaffMember, form) -> str:
    await staffing.unbind(m.code, str(form.get("identity", "")), actor=actor(request), now=now(request))
    return m.code


@_member_action("reassigned")
async def person_reassign(request: web.Request, m: StaffMember, form) -> str:
    to = str(form.get("to", "")).strip()
    if not to:
        raise InvalidInput("pick who takes over", field="to")
    try:
        await staffing.reassign(console(request).engine, m.code, to, actor=actor(request), source="console")
    except NotFound:
        raise InvalidInput("pick who takes over", field="to") from None
    return m.code


@_member_action("signed_out")
async def person_signout(request: web.Request, m: StaffMember, form) -> str:
    from models import audit

    n = await sessions.end_sessions(m.id, now(request))
    await audit.acted(actor(request), "staff.sign_out", f"staff:{m.code}", {"sessions": n}, {"sessions": 0},
                      at=now(request))
    return m.code


# ---------------------------------------------------------------- API keys (admins)
async def _keys_page(request: web.Request, *, new_key: str | None = None, error: str | None = None,
                     done: str | None = None, status: int = 200) -> web.Response:
    return render(request, "keys.html", {"keys": await apikeys.listed(), "scopes": apikeys.SCOPES,
                                         "defaults": apikeys.DEFAULT_SCOPES, "new_key": new_key, "error": error,
                                         "done": done, "tz": console(request).tz}, status=status)


@staff_page(roles=(Role.ADMIN,))
async def keys(request: web.Request) -> web.StreamResponse:
    return await _keys_page(request)


@staff_action(roles=(Role.ADMIN,))
async def key_create(request: web.Request) -> web.StreamResponse:
    from models import audit

    form = await request.post()
    name = str(form.get("name", "")).strip()
    chosen = tuple(s for s in form.getall("scope", []) if s in apikeys.SCOPES)
    if not name or len(name) > 100:
        return await _keys_page(request, error="keys.err.name", status=400)
    if not chosen:
        return await _keys_page(request, error="keys.err.scopes", status=400)
    key, row = await apikeys.create(name, chosen)
    await audit.acted(actor(request), "apikey.create", f"apikey:{row.id}", None,
                      {"name": row.name, "scopes": row.scopes}, at=now(request))
    response = await _keys_page(request, new_key=key)
    return response


@staff_action(roles=(Role.ADMIN,))
async def key_revoke(request: web.Request) -> web.StreamResponse:
    from models import audit

    raw = request.match_info["key_id"]
    row = await apikeys.revoke(int(raw), now(request)) if raw.isdigit() and len(raw) < 19 else None
    if row is None:
        return not_found(request)
    await audit.acted(actor(request), "apikey.revoke", f"apikey:{row.id}", {"revoked": False}, {"revoked": True},
                      at=now(request))
    return await _keys_page(request, done="keys.done.revoked")


def routes() -> list[web.RouteDef]:
    return [
        web.get("/console/people", people_list),
        web.post("/console/people", people_add),
        web.get("/console/people/{code}", person),
        web.post("/console/people/{code}/edit", person_edit),
        web.post("/console/people/{code}/disable", person_disable),
        web.post("/console/people/{code}/enable", person_enable),
        web.post("/console/people/{code}/bind", person_bind),
        web.post("/console/people/{code}/unbind", person_unbind),
        web.post("/console/people/{code}/reassign", person_reassign),
        web.post("/console/people/{code}/signout", person_signout),
        web.get("/console/keys", keys),
        web.post("/console/keys", key_create),
        web.post("/console/keys/{key_id}/revoke", key_revoke),
    ]

"""What each intent sounds like: regular expressions with a weight, per language.

Chinese phrases are matched on the message as written (after NFKC, lower case and the
pinyin-slip fixes); English phrases on its words, lower case, typos corrected, joined by
single spaces (``where's`` → ``where s``). References and codes are blanked out first.

Weights: 1 a hint, 2 a clear cue, 3 decisive, 4 overrides a decisive cue of another
intent (a negation: "别再通知我" is not "通知我"). Where two phrases overlap, the longer one
hides the shorter unless the shorter is heavier (``PhraseSet.find``): "取消订阅" counts as
unsubscribe, not as "取消" plus "订阅", but "refund" in "when will my refund arrive" counts.
Phrases under ``NEUTRAL`` ("不急", "no rush", "shipping agent") count for nothing and hide
the cues inside them.
"""
from __future__ import annotations

from bot.conversation.nlu.lexicon import NEUTRAL, NEUTRAL_WEIGHT


def _g(n: int) -> str:
    """Up to ``n`` characters within one clause (Chinese)."""
    return rf"[^,，。!?！？;；、\n]{{0,{n}}}"


def _w(n: int) -> str:
    """Up to ``n`` more words (English)."""
    return rf"(?: [a-z]+){{0,{n}}}"


_GOODS_ZH = r"(货|单|单子|件|包裹|快递|订单|东西|产品|物品|它)"
_GOODS_EN = (r"(order|orders|package|packages|parcel|parcels|shipment|shipments|delivery|goods|stuff|"
             r"it|item|items|things|box|boxes|product|products|purchase|cargo|container)")

ZH: dict[str, tuple[tuple[str, float], ...]] = {
    NEUTRAL: (
        ((r"不(是很|太|用|用着|着)?急|不赶(时间)?|慢慢来|(不要|别|不用|不)(取消|改)(收货|收件)?(地址|数量|电话|订单|单|了)?|"
          r"人工(费|成本|费用)"), NEUTRAL_WEIGHT),
        # "不用催，我就想看看…": not a rush, whatever else it says
        (r"(不用|别|不要|不是|没|没有|无需|不必)(在|要)?催(单|你|你们|了)?", NEUTRAL_WEIGHT),
    ),
    "greeting": (
        (r"你好|您好|嗨|哈[喽啰罗]|[早晚]上好|[上中下]午好|早安|在[吗么嘛]|在不在|有人[吗么嘛]", 2),
        (r"谢谢|多谢|感谢", 2),
    ),
    "help": (
        (r"(能|可以|会)(帮我)?(做|干|查)(些)?(什么|啥)|(能|会)干(嘛|吗)", 2.5),
        (r"(能|可以)查(快递|物流|订单)(吗|么|不)", 3.5),
        (r"有(什么|啥|哪些)功能|功能(介绍|列表|菜单)|使用(说明|方法|帮助|指南)|(怎么|如何|怎样)(用|使用)", 2.5),
        (r"帮助|菜单|指令|命令|你是谁", 2),
    ),
    "track_order": (
        (r"到哪|哪(一|个)?(步|环节|阶段|工序)|" + _GOODS_ZH + _g(4) + r"在哪|(现在|目前|已经|到底)在哪", 2),
        # An order described, not numbered: "我上周下的那个单子现在怎么样了"
        (r"(单|单子|订单|货|东西|快递|包裹)" + _g(6) + r"(怎么样|咋样|如何|什么情况|有进展|有消息|有动静)", 2),
        (r"(下|订|买)的(那个|那批|那张|那笔)?(单|单子|订单|货)|(单|单子|订单|货|快递|包裹)呢", 1.5),
        (r"进度|进展|状态|什么情况|情况如何", 2),
        (r"(发货|发出去?|出货|寄出去?|发走|发)(了)?(吗|没|么|嘛|没有)", 2),
        (r"(有没有|是否|是不是|还没|还没有|怎么还没)(发货|发出|出货|寄出|到货|发|到)|(到货|收到|送到|签收|到)了?(吗|没|么|没有)", 2),
        ((r"(什么时候|何时|几时|啥时候|哪天|几号|多久|几天|多长时间)(能|可以|会|才)?"
          r"(发货|发出|出货|到货|送到|交货|寄出|完成|做好|生产完|生产好|发|到|好)|还要多久"), 2),
        (r"(生产|做|进展|弄)(得|的)?(怎么样|如何|咋样)|(做好|生产完|完成|出来)了(吗|没|么)", 2),
        (r"查(一下|下|查|询|看)?|看(一下|看)", 1.5),
        (r"到货|交期|物流|快递|签收|运单", 1),
    ),
    "list_orders": (
        (r"(哪些|哪几个|几个|多少)(个)?(订单|单子|单)|(所有|全部)(的)?(订单|单子|单)|订单(列表|记录|清单)|历史订单", 2.5),
        (r"(下|订|买)(了|过)(哪些|什么|些什么|几个|多少)|(订单|单子)(都)?有(哪些|哪几个|多少)", 2.5),
        (r"(最近|今年|这个月|本月|上个月|去年)(的)?(订单|单子)", 2),
        (r"(查看|看看|看一下|查一下|列出|显示)(一下)?我的(所有|全部)?(订单|单子)", 1.8),
        (r"我的(订单|单子)", 1.2),
    ),
    "subscribe": (
        (r"订阅", 3.5),
        (r"(通知|提醒)我|告诉我一声|(了|后|时|之后|的时候|就)(请|麻烦)?(通知|提醒|告诉|告知)(我|一下|一声)", 3),
        (r"(有|一有)(进展|进度|更新|动态|变化|消息)" + _g(4) + r"(通知|告诉|提醒|发给|推送|push)", 3.5),
        (r"(记得|记着|别忘了)(告诉|通知|提醒)我?", 3),
        (r"(及时|随时|第一时间)(通知|告诉|提醒|推送|同步)|(开启|打开)(通知|提醒|推送)", 3),
        (r"(推送|同步)给我|关注(一下)?(这个|此)?(订单|单)", 2.5),
    ),
    "unsubscribe": (
        (r"取消(订阅|关注|通知|提醒|推送)|退订|免打扰", 4),
        ((r"(别|不要|不用|无需|停止|不需要|请勿|勿)(再)?(给我)?(发|传|推送|通知|提醒|打扰|推|发送|烦|骚扰)"
          r"(消息|信息|讯息|通知|了|我)?"), 4),
        (r"(关闭|关掉|关了)(通知|提醒|推送|消息)|不想(再)?(收到|接收|接到)", 4),
    ),
    "expedite": (
        (r"催|加急|急用|急需|着急|很急|太急|紧急|急着用|提前(发货|交货|出货|生产|安排|到)|优先(安排|生产|发货|处理)", 3),
        (r"快点|快些|快一点|快一些|赶快|赶紧|尽快|抓紧|加快|加速|提速|(能不能|可以|可不可以|能否)(快|早|提前)", 2.5),
        (r"(能不能|能否|可不可以|可以|能)" + _g(8) + r"(之前|以前|前)(发|到|交|做好|出货|完成)", 2.5),
        (r"(太|好|这么)慢|等(了)?(好|很|太)?久", 2),
        (r"急", 1.5),
    ),
    "change_request": (
        (r"取消", 2.5),
        (r"不要了|不想要了|撤单|退单|撤销|作废|增加数量|减少数量|追加|加订|加单", 3),
        ((r"(改|修改|更改|变更|更换|换)(一下|个|一个)?(收货|收件|配送|送货|发货)?"
          r"(地址|数量|电话|手机号?|收件人|联系人|颜色|型号|规格|尺寸|交期|日期|时间|订单)"), 3),
        ((r"(地址|数量|电话|收件人|联系人|规格|型号|颜色|尺寸)" + _g(6) +
          r"(改|修改|更改|变更|错|不对|有误|换|减少|增加|减到|加到)"), 3),
        (r"(能|可以|可不可以|能不能)改|改(一下|成|为)", 1.5),
    ),
    "after_sales": (
        (r"退货|退款|退钱|换货|退换|调换|返修|维修|修理|保修|售后|质保|三包|赔偿|理赔", 3),
        (r"(坏|破|碎|裂|烂)(了|掉)|损坏|破损|瑕疵|(质量|品质)(有)?问题|次品|残次|不合格|故障", 3),
        (r"发错|错发|漏发|少发|多发|缺件|少件|(不能|无法|没法)(用|使用|工作|开机)|用不了|怎么(换|退)", 2.5),
        (r"(少|缺)(了|发了)?\s*(\d+|[一两二三四五六七八九十几])\s*(个|件|箱|台|套|只|包|盒|条|张|pcs)", 3),
        (r"投诉|换(一个|个|新的|一台|一件)|(想|要)退", 2),
    ),
    "human_agent": (
        (r"转人工|人工(客服|服务|坐席)|真人|活人", 4),
        ((r"(找|联系|叫|接通|转接?|要)(一下)?(个|一个)?(你们)?(的)?(客服|业务员|业务|销售|跟单员?|经理|负责人|工作人员|老板|专员)"
          r"|(找|叫)(个)?人|(跟|和|与)(个)?(真)?人(说|聊|谈|沟通|通话)"), 4),
        # Not the bot: "别让机器人回我", "不要机器人"
        (r"(别|不要|不想|不用|不需要|不)(让|跟|和|用|要)?(机器人|机器|bot|ai|自动回复)", 4),
        (r"联系我|回(个)?电话|回电", 3.5),
        (r"(跟|和|与)" + _g(4) + r"(真人|人工|客服|销售|业务员?|经理|负责人|工作人员|老板)(说|聊|谈|沟通|通话)", 4),
        (r"(打|来)(个)?电话给我|给我(打|来)(个)?电话|电话联系我", 3),
        (r"人工|客服", 3),
    ),
    "provide_code": (
        (r"验证码|校验码|动态码|确认码|认证码|短信码|码是|码:", 3),
    ),
}

EN: dict[str, tuple[tuple[str, float], ...]] = {
    NEUTRAL: (
        ((r"\b(no|not in a|not in any|no need to|don t|dont|do not) (rush|hurry)\b|\bnot urgent\b|"
          r"\b(don t|dont|do not|no need to|not) (cancel|return|change|unsubscribe)\b|"
          r"\b(shipping|forwarding|freight|customs|purchasing|sales) (agent|manager)\b"), NEUTRAL_WEIGHT),
    ),
    "greeting": (
        (r"\b(hi|hello|hey|hiya|howdy|yo|greetings|hallo|hola|morning|evening|afternoon)\b|\b(hii+|hel+o+|he+y+)\b", 2),
        (r"\b(anyone|anybody) (there|here|around)\b|\b(are|r) (you|u) there\b", 2),
        (r"\bgood (morning|afternoon|evening|day)\b", 2),
        (r"\b(thanks|thank you|thx|cheers)\b", 2),
    ),
    "help": (
        (r"\bwhat (else )?(can|do|could) (you|u|this|it|the)( bot)? (do|help)\b", 2.5),
        (r"\bhow (do|does|can|should|to)(?: i| we| you| this| it| the)?(?: bot)? (use|work|works)\b", 2.5),
        (r"\b(help|commands|menu|instructions|manual|features|usage)\b|\b(who|what) are you\b|\bwhat (is|s) this\b", 2),
    ),
    "track_order": (
        (r"\bwhere\b" + _w(4) + " " + _GOODS_EN + r"\b", 2),
        (r"\b(status|progress|eta|tracking|track|trace|whereabouts)\b|\b(what|which) stage\b", 2),
        ((r"\bwhen\b" + _w(5) + r" (arrive|arrives|arriving|ship|ships|shipped|deliver|delivered|delivery|come|"
          r"comes|coming|ready|done|dispatched|finished|complete|completed|here|get|receive|leave)\b"), 2),
        (r"\b(delivery|shipping|arrival|ship|dispatch) date\b", 2),
        # An order described, not numbered: "the stuff I bought last month"
        (r"\b(stuff|order|things|goods|items?|package|parcel|purchase) (i|we) (bought|ordered|placed|purchased)\b", 2),
        (r"\b(check|lookup|look up|find|locate|trace)\b" + _w(3) + " " + _GOODS_EN + r"\b", 2.5),
        (r"\bhow (is|s|are) (my|our|the) (order|orders|package|shipment|goods|production)\b", 2),
        # A question, not a request to be told later: "could you tell me when it will ship?"
        ((r"\b(could|can|would|will) you (please |pls |kindly )?(tell|let) (me|us)( know)? (when|where|if|whether|"
          r"what|how)\b|\b(tell|let) (me|us)( know)? when\b" + _w(3) + r" will\b"), 3.5),
        (r"\b(any )?(news|update) (on|about|for)\b|\bhow long\b", 2),
        ((r"\b(did|has|have|is|are|was|were)\b" + _w(3) + r" (ship|shipped|sent|dispatched|delivered|arrived|"
          r"left|ready|done|finished|produced)\b"), 2),
        (r"\b(shipped|dispatched|delivered|arrived)\b", 1.5),
        (r"\b(arrive|arrival|deliver|check)\b|\b(my|our|the) (order|package|parcel|shipment)\b", 1),
    ),
    "list_orders": (
        (r"\b(show|list|see|view|display|get|give|check)\b" + _w(3) + r" orders\b", 2.5),
        (r"\border (history|list)\b|\b(which|what|how many) orders\b|\b(my|recent|all) purchases\b", 2.5),
        ((r"\b(what|everything|all|anything) (did |have |ve )?(i|we) (have |ve )?(ordered|bought|purchased|order|buy|"
          r"purchase)\b"), 2.5),
        (r"\b(my|all|our) orders\b", 2),
    ),
    "subscribe": (
        (r"\b(subscribe|subscription)\b|\bkeep (me|us) (posted|updated|informed|in the loop)\b", 3.5),
        (r"\bnotify (me|us)\b|\blet (me|us) know (when|once|if|as soon as)\b", 3),
        ((r"\b(alert|tell|inform|ping|message|text|email|update|remind) (me|us)" + _w(3) +
          r" (when|once|as soon as)\b"), 3),
        ((r"\bsend (me|us) (updates|notifications|alerts|news)\b|\b(turn on|enable|get|receive) "
          r"(notifications|alerts|updates)\b"), 3),
        (r"\b(notifications|alerts|updates) (on|for|about)\b|\bwatch\b", 2),
    ),
    "unsubscribe": (
        (r"\bunsubscribe\b|\bopt out\b|\bleave me alone\b|^(stop|unsub|mute)$", 4),
        (r"\b(stop|no more|quit|end|pause|disable|turn off|mute|cancel|don t send|dont send|do not send)"
         + _w(3) + r" (notifications|notification|alerts|updates|messages|messaging|texts|texting|emails|"
         r"spam|spamming|subscription|sending|notifying|bothering|pinging)\b", 4),
    ),
    "expedite": (
        (r"\b(rush|expedite|expedited|hurry|asap|urgent|urgently|prioritise|prioritize|priority)\b", 3),
        (r"\bspeed (it |this |things |my order )?up\b|\bmove (it|this|my order) up\b", 3),
        (r"\b(faster|sooner|quicker|earlier)\b", 2.5),
        ((r"\bneed (it|this|them|the [a-z]+|my [a-z]+)" + _w(2) +
          r" (by|before|asap|urgently|today|tomorrow|tonight)\b"), 2.5),
        (r"\b(so|too|very) (slow|long)\b|\btaking forever\b", 2),
    ),
    "change_request": (
        ((r"\b(change|modify|edit|amend|alter|switch)\b" + _w(3) + r" (address|quantity|qty|"
          r"amount|phone|recipient|size|colour|color|model|spec|specs|date|order)\b"), 3),
        (r"\bwrong (shipping |delivery )?(address|phone|quantity|qty)\b", 3),
        (r"\b(cancel|canceled|cancelled|cancelling|canceling|cancellation)\b", 2.5),
        (r"\b(don t|dont|do not|no longer) (want|need) (it|this|them|the order|my order)\b", 2.5),
        (r"\b(add|remove|reduce|increase)\b" + _w(3) + r" (quantity|qty|units|pieces|pcs)\b", 2.5),
        (r"\b(change|modify|amend|alter)\b", 2),
        (r"\baddress\b", 1),
    ),
    "after_sales": (
        ((r"\b(refund|refunded|refunds|return|returns|returning|returned|exchange|repair|repaired|warranty|"
          r"replacement|replace|rma)\b|\bmoney back\b|\bafter sales\b"), 3),
        ((r"\bwrong (item|items|product|products|size|colour|color|model|goods|part|parts)\b|\bquality "
          r"(issue|issues|problem|problems)\b"), 3),
        (r"\b(damaged|broken|defective|faulty|cracked|scratched|dented|smashed|torn|leaking|missing|lost)\b", 2.5),
        (r"\b(not|doesn t|doesnt|does not|didn t|isn t) (work|working|fit|fits|match)\b", 2.5),
        (r"\b(received|got) only\b|\bonly (received|got)\b|\b(short shipped|shortage|short delivery)\b", 2.5),
        (r"\b(complaint|complain)\b", 2),
    ),
    "human_agent": (
        ((r"\b(talk|speak|chat|connect|transfer|put) (me |us )?(to|with|through to) (a |an |the |some |your |"
          r"real |live |actual )*(human|person|agent|representative|rep|operator|someone|somebody|staff|people|"
          r"manager|support|service|sales|salesperson|team)\b"), 4),
        (r"\b(real|live|actual) (person|human|agent|people)\b|\bcustomer (service|support|care)\b|\bcall me\b", 3.5),
        ((r"\b(someone|somebody|anyone|a person|sales|an agent|your team)" + _w(2) + r" (call|phone|ring|contact) (me|us)\b"
          r"|\b(phone|ring) (me|us)\b"), 4),
        (r"\b(need|want|get)( me)? (a |an |some |to talk to a |to speak to a )?(person|human|people|someone|somebody)\b", 3.5),
        (r"\b(no|not|don t|dont|stop|without|never)\b" + _w(5) + r" (bot|bots|robot|robots|machine|ai)\b", 3.5),
        (r"\bhuman\b", 2.5),
        (r"\b(agent|representative|operator)\b", 1.5),  # also "shipping agent", "forklift operator"
        (r"\b(manager|supervisor|salesperson)\b", 1),  # also a job title in a signature
    ),
    "provide_code": (
        (r"\b(code|pin|otp|passcode)\b", 3),
        (r"\b(verification|verify)\b", 1),
    ),
}

"""The WeChat Official Account channel (see ``adapter.py``; the menu keys are in ``pushes.py``)."""
from adapters.base import Channel
from adapters.wechat.adapter import WeChatChannel
from adapters.wechat.config import WeChatSettings, problem

CHANNEL = Channel("wechat", WeChatSettings, problem, WeChatChannel)

__all__ = ["CHANNEL", "WeChatChannel", "WeChatSettings"]

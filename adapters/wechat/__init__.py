"""The WeChat Official Account channel (see ``adapter.py``; the menu keys are in ``events.py``)."""
from adapters.wechat.adapter import WeChatChannel

__all__ = ["WeChatChannel"]

"""The ``[wechat]`` section of the config, and when the channel cannot start."""
from __future__ import annotations

from pydantic import Field, SecretStr

from adapters.base import Section
from adapters.wechat.envelope import valid_aes_key


class WeChatSettings(Section):
    enabled: bool = False
    app_id: str | None = None
    app_secret: SecretStr | None = None
    token: SecretStr | None = None
    encoding_aes_key: SecretStr | None = None
    api_base_url: str = "https://api.weixin.qq.com/"
    # Notices outside the 48-hour window: template ids (service accounts) and subscribe-message
    # template ids, by notice kind (node_entered, late, eta_changed...).
    templates: dict[str, str] = Field(default_factory=dict)
    subscribe_templates: dict[str, str] = Field(default_factory=dict)


def problem(wx: WeChatSettings) -> str | None:
    """Why the channel cannot start with these settings; None when it can."""
    if not wx.enabled:
        return "[wechat] enabled is not true"
    if not wx.app_id:
        return "wechat.app_id is not set"
    if not wx.token or not wx.token.get_secret_value():
        return "wechat.token is not set (the Token of the Official Account's server configuration)"
    key = wx.encoding_aes_key.get_secret_value() if wx.encoding_aes_key else ""
    if key and not valid_aes_key(key):
        return "wechat.encoding_aes_key must be the 43-character EncodingAESKey the Official Account shows"
    return None

"""The webhook's envelope: WeChat's signatures, safe-mode AES, and sealing the passive reply.

WeChat signs every call to the webhook with the Token set in the Official Account:
- the URL check (GET) and **plaintext mode** carry ``signature`` = sha1 of the sorted
  (token, timestamp, nonce). It does not cover the body, so anyone who saw one signed
  URL could post another body with it;
- **safe mode** carries ``encrypt_type=aes`` and ``msg_signature`` = sha1 of the sorted
  (token, timestamp, nonce, Encrypt): the AES-encrypted body is signed, and it decrypts
  only with the EncodingAESKey, for this app id. **Compatible mode** sends the same
  ``encrypt_type=aes`` request (the plaintext fields ride along) and is read the same way:
  only the encrypted part counts.

With ``encoding_aes_key`` configured, a plaintext POST is refused (403): the account is
in safe or compatible mode, and a request without encryption is not from WeChat. Without
it, only plaintext mode is accepted. Signatures are computed with wechatpy's signer and
compared in constant time (wechatpy's own checks use ``!=``).
"""
from __future__ import annotations

import base64
import binascii
import hmac
import time
from collections.abc import Mapping

import xmltodict
from wechatpy.crypto import WeChatCrypto
from wechatpy.exceptions import InvalidAppIdException, InvalidSignatureException
from wechatpy.utils import WeChatSigner

AES_KEY_LENGTH = 43


class Refused(Exception):
    """A call the webhook will not take: the HTTP status and, for the log, why."""

    def __init__(self, status: int, why: str) -> None:
        super().__init__(why)
        self.status, self.why = status, why


def valid_aes_key(key: str) -> bool:
    """An EncodingAESKey as the Official Account shows it: 43 characters, 32 bytes once decoded."""
    if len(key) != AES_KEY_LENGTH:
        return False
    try:
        return len(base64.b64decode(key + "=", validate=True)) == 32
    except (binascii.Error, ValueError):
        return False


def _signature(*parts: str) -> str:
    signer = WeChatSigner()
    signer.add_data(*parts)
    return signer.signature


def _same(expected: str, given: str) -> bool:
    return hmac.compare_digest(expected.encode(), given.encode())


class Envelope:
    """Checks and opens what WeChat posts, and seals what goes back."""

    def __init__(self, token: str, app_id: str, aes_key: str | None) -> None:
        self.token = token
        self.crypto = WeChatCrypto(token, aes_key, app_id) if aes_key else None

    @property
    def safe_mode(self) -> bool:
        return self.crypto is not None

    def _signed(self, query: Mapping[str, str], name: str, *more: str) -> bool:
        ts, nonce, given = query.get("timestamp"), query.get("nonce"), query.get(name)
        if not (ts and nonce and given):
            return False
        return _same(_signature(self.token, ts, nonce, *more), given)

    def echo(self, query: Mapping[str, str]) -> str:
        """The URL check's ``echostr``, once its signature holds."""
        if not self._signed(query, "signature"):
            raise Refused(403, "the URL check's signature does not match the token")
        return query.get("echostr", "")

    def open(self, query: Mapping[str, str], body: bytes) -> tuple[str, bool]:
        """The pushed XML as plain text, and whether it came encrypted (then the reply is too)."""
        mode = query.get("encrypt_type", "raw")
        if mode == "aes":
            if self.crypto is None:
                raise Refused(403, "an encrypted push, but no encoding_aes_key is configured")
            return self._decrypt(query, body), True
        if mode != "raw":
            raise Refused(400, f"unknown encrypt_type {mode[:20]!r}")
        if self.crypto is not None:
            raise Refused(403, "a plaintext push while safe mode is configured")
        if not self._signed(query, "signature"):
            raise Refused(403, "the signature does not match the token")
        try:
            return body.decode("utf-8"), False
        except UnicodeDecodeError:
            raise Refused(400, "the body is not UTF-8") from None

    def _decrypt(self, query: Mapping[str, str], body: bytes) -> str:
        if not query.get("msg_signature"):
            raise Refused(403, "an encrypted push without msg_signature")
        try:
            encrypt = xmltodict.parse(body)["xml"]["Encrypt"]
        except Exception:  # noqa: BLE001 - expat, a missing element, a DTD: all the same to us
            raise Refused(400, "malformed XML (no <xml><Encrypt>)") from None
        if not isinstance(encrypt, str) or not self._signed(query, "msg_signature", encrypt):
            raise Refused(403, "the msg_signature does not match the token and body")
        try:
            return self.crypto.decrypt_message({"Encrypt": encrypt}, query["msg_signature"],
                                               query["timestamp"], query["nonce"])
        except (InvalidAppIdException, InvalidSignatureException):
            raise Refused(403, "encrypted for another app id") from None
        except Exception:  # noqa: BLE001 - bad base64 or padding from someone who knows the token
            raise Refused(400, "the encrypted body does not decrypt") from None

    def seal(self, xml: str, query: Mapping[str, str], encrypted: bool) -> str:
        """The passive reply, encrypted when the push was (with the push's nonce)."""
        if not encrypted or self.crypto is None:
            return xml
        return self.crypto.encrypt_message(xml, query.get("nonce", ""), str(int(time.time())))

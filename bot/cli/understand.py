"""What `orderbot nlu` needs besides the parser: its settings, its input file, its output.

The command must work on a fresh machine: with no config file, or a config without a
secret key (the parser needs none), it uses the default ``[orders]`` settings.
"""
from __future__ import annotations

import json
from pathlib import Path

import click

from bot.config import ConfigError, NoConfigFile, OrdersSettings, find_config_file, load_settings
from bot.conversation.nlu.parser import Parse, Parser

_SECRET_KEY = "security.secret_key"
# Stands in for the secret key while reading [orders]; never used for anything.
_PLACEHOLDER_SECRET = "nlu-reads-no-secrets-0000"


class BadLine(ValueError):
    """A line of the input file that is not a JSON object with a "text" string."""


def orders_settings(explicit: str | None) -> OrdersSettings:
    """``[orders]`` from the config (``-c``, ``$ORDERBOT_CONFIG``, ``./orderbot.toml``), else the defaults.

    Raises:
        ConfigError: the config file is there but wrong in some other way than the secret key.
    """
    path = find_config_file(explicit)
    if path is not None and not path.exists():
        click.echo(f"orderbot: no config file at {path}; using the default order number pattern", err=True)
        return OrdersSettings()
    try:
        return load_settings(explicit).orders
    except NoConfigFile:
        pass
    except ConfigError as e:
        if _SECRET_KEY not in str(e):
            raise
    try:  # the environment still wins over the placeholder, as it does over the file
        return load_settings(explicit, security={"secret_key": _PLACEHOLDER_SECRET}).orders
    except ConfigError as e:
        if _SECRET_KEY not in str(e):
            raise
        return OrdersSettings()


def parser_for(explicit: str | None) -> Parser:
    """A parser set up from the config, or from the defaults when there is none."""
    orders = orders_settings(explicit)
    return Parser(orders.number_pattern, orders.default_prefix)


def read_texts(path: Path) -> list[str]:
    """The ``text`` of every non-blank line of a JSONL file, all checked before any is parsed.

    Raises:
        BadLine: naming the file and the line number.
    """
    texts: list[str] = []
    with path.open("rb") as fh:
        for n, raw in enumerate(fh, 1):
            try:
                line = raw.decode("utf-8").lstrip("\ufeff") if n == 1 else raw.decode("utf-8")
            except UnicodeDecodeError:
                raise BadLine(f"{path}:{n}: not UTF-8 text") from None
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as e:
                raise BadLine(f"{path}:{n}: not valid JSON ({e.msg} at column {e.colno})") from None
            if not isinstance(obj, dict) or not isinstance(obj.get("text"), str):
                raise BadLine(f'{path}:{n}: expected a JSON object with a "text" string')
            texts.append(obj["text"])
    return texts


def to_json(parse: Parse) -> str:
    """One line of output; Chinese stays readable."""
    return json.dumps({"text": parse.text, "intent": parse.intent, "order_refs": list(parse.order_refs),
                       "code": parse.code, "confidence": parse.confidence, "language": parse.language},
                      ensure_ascii=False)

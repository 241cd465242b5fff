"""The terminal channel behind `orderbot chat` (see ``adapter``)."""
from adapters.terminal.adapter import NAME, Terminal

__all__ = ["NAME", "Terminal"]

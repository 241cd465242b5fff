"""What the tests share: constants and helpers (``base``), the shared story of one order
(``story``), a chat flow and a recording adapter (``fakes``), and stand-ins for the
platforms we cannot reach (``telegram_api``, ``wechat_api``), a browser's view of the web
chat (``web_client``) and a throwaway Dovecot (``dovecot``). Test modules import from here
and from ``conftest``'s fixtures, never from each other."""

"""The web chat's routes, documented: the application mounts exactly these, and the
OpenAPI document (``GET /api/v1/openapi.json``) lists them, so neither can forget one.
"""
from __future__ import annotations

from typing import Protocol

from adapters.base import Handler, Query, Route
from adapters.web.wire import MAX_TEXT, ChatMessageIn, RepliesOut

TAG = "web chat"
EMBED = Query("embed", "string", "`1` inside the widget's frame (the visitor cookie is then made for a "
                                 "cross-site frame: `SameSite=None; Secure; Partitioned`)")
COOKIE = ("The visitor is the one of the signed `ob_visitor` cookie (HttpOnly, SameSite=Lax); without a valid "
          "one the request starts a new visitor and the response sets the cookie. ")
ORIGIN = ("The `Origin` header must be the chat's own origin or one of `[web] allowed_origins`; anything else, "
          "or none, is refused with 403 (cross-site request forgery).")
FORBIDDEN = ((403, "The Origin header is missing or not an allowed origin"),)


class ChatHandlers(Protocol):
    """The web chat's request handlers (``WebChat`` has them)."""

    chat_page: Handler
    chat_messages: Handler
    chat_socket: Handler
    chat_widget: Handler
    chat_static: Handler


def chat_routes(chat: ChatHandlers) -> tuple[Route, ...]:
    """The routes of one WebChat, bound to its handlers."""
    return (
        Route("GET", "/chat", chat.chat_page, "The web chat page (Chinese or English), for phones and desktops",
              auth=False, tag=TAG, media=("text/html",), query=(
                  Query("lang", "string", "`zh` or `en`; default: from Accept-Language"),
                  EMBED,
                  Query("start", "string", "a bind token (`bind_token` of `POST /api/v1/orders`): the page "
                                           "sends `/start <token>` first, which links this visitor to the "
                                           "customer without a code"),
              ), description=COOKIE + "The page sets the cookie on every load, renewing it."),
        Route("POST", "/chat/api/messages", chat.chat_messages, "Send the visitor's message; get the bot's replies",
              body=ChatMessageIn, response=RepliesOut, errors=(400, 403, 413, 503), auth=False, tag=TAG,
              query=(EMBED,), error_text=FORBIDDEN + (
                  (400, "Not a JSON object, or `text` missing or empty, or a malformed `id`"),
                  (413, f"`text` is longer than {MAX_TEXT} characters"),
                  (503, "The chat is not connected to the bot"),
              ), description=COOKIE + ORIGIN + " A retry with the same `id` is answered once: the second time "
                                               "with no replies."),
        Route("GET", "/chat/ws", chat.chat_socket, "The web chat over a WebSocket", status=101,
              errors=(400, 403), auth=False, tag=TAG, query=(EMBED,),
              error_text=FORBIDDEN + ((400, "Not a WebSocket handshake"),),
              description=COOKIE + ORIGIN + "\n\nFrames in: `{\"text\", \"id\"}` as the body of "
              "`POST /chat/api/messages`. Frames out: `{\"id\", \"replies\": [...]}` answering the message "
              "`id`; `{\"id\", \"error\": {\"code\", \"message\", \"status\"}}` for a message refused; "
              "`{\"replies\": [...]}` without `id` for what the bot says by itself (a notice about an order)."),
        Route("GET", "/chat/widget.js", chat.chat_widget, "The embeddable chat widget (a script for other sites)",
              auth=False, tag=TAG, media=("application/javascript",),
              description="`<script src=\"https://ORDERBOT/chat/widget.js\" async></script>` puts a chat button on "
                          "a page; it opens `/chat?embed=1` in a frame. Optional attributes: `data-lang` "
                          "(`zh`/`en`), `data-start` (a bind token), `data-position` (`left`)."),
        Route("GET", "/chat/static/{name}", chat.chat_static, "The chat page's script and style sheet",
              errors=(404,), auth=False, tag=TAG, media=("application/javascript", "text/css"),
              error_text=((404, "No such file"),)),
    )

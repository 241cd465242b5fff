/* orderbot chat widget. On your site:
     <script src="https://orders.example.com/chat/widget.js" async></script>
   Optional attributes: data-lang="zh|en" (default: the page's lang, else the browser's),
   data-start="<bind token>", data-position="left".
   A floating button opens the chat in a frame served by orderbot itself, so the chat's
   cookie belongs to orderbot's host. Browsers treat a cookie in a cross-site frame as a
   third-party cookie: where they block those (Safari; others in strict modes) the frame
   cannot remember the visitor, and the chat offers to open in a window of its own. */
(function () {
  "use strict";
  if (window.__orderbotWidget) return;
  window.__orderbotWidget = true;
  var script = document.currentScript || (function () {
    var all = document.querySelectorAll("script[src*='/chat/widget.js']");
    return all[all.length - 1];
  })();
  if (!script) return;
  var base = new URL(script.src, location.href);
  var origin = base.origin;
  var lang = (script.getAttribute("data-lang") || document.documentElement.lang || navigator.language || "zh")
    .toLowerCase().indexOf("zh") === 0 ? "zh" : "en";
  var start = script.getAttribute("data-start");
  var left = script.getAttribute("data-position") === "left";
  var label = {zh: {open: "在线查询订单", close: "关闭订单查询"}, en: {open: "Chat: where is my order?",
               close: "Close the chat"}}[lang];

  var side = left ? "left" : "right";
  var css = "#orderbot-widget-button{position:fixed;bottom:20px;" + side + ":20px;z-index:2147483647;" +
    "width:56px;height:56px;border-radius:50%;border:0;cursor:pointer;background:#1f6feb;color:#fff;" +
    "box-shadow:0 4px 14px rgba(0,0,0,.25);font:600 24px/56px system-ui,sans-serif;padding:0}" +
    "#orderbot-widget-button:focus-visible{outline:3px solid #f59e0b;outline-offset:3px}" +
    "#orderbot-widget-frame{position:fixed;bottom:88px;" + side + ":20px;z-index:2147483646;" +
    "width:380px;height:600px;max-height:calc(100vh - 108px);border:1px solid #d9dde3;border-radius:12px;" +
    "box-shadow:0 8px 30px rgba(0,0,0,.25);background:#fff;display:none}" +
    "#orderbot-widget-frame.open{display:block}" +
    "@media (max-width:480px){#orderbot-widget-frame{left:0;right:0;bottom:0;width:100%;height:100%;" +
    "max-height:none;border-radius:0;border:0}#orderbot-widget-frame.open~#orderbot-widget-button{" +
    "top:4px;bottom:auto;left:auto;right:8px;width:38px;height:38px;font-size:18px;line-height:38px;" +
    "box-shadow:none}}";  // full screen on a phone: the close button sits in the chat's header

  function mount() {
    var style = document.createElement("style");
    style.textContent = css;
    document.head.appendChild(style);

    var frame = document.createElement("iframe");
    frame.id = "orderbot-widget-frame";
    frame.title = label.open;
    frame.setAttribute("allow", "clipboard-write");
    var src = origin + "/chat?embed=1&lang=" + lang + (start ? "&start=" + encodeURIComponent(start) : "");

    var button = document.createElement("button");
    button.id = "orderbot-widget-button";
    button.type = "button";
    button.setAttribute("aria-label", label.open);
    button.setAttribute("aria-expanded", "false");
    button.setAttribute("aria-controls", frame.id);
    button.textContent = "\uD83D\uDCAC";  // speech balloon

    button.addEventListener("click", function () {
      var open = !frame.classList.contains("open");
      if (open && !frame.src) frame.src = src;  // load the chat only when someone wants it
      frame.classList.toggle("open", open);
      button.setAttribute("aria-expanded", String(open));
      button.setAttribute("aria-label", open ? label.close : label.open);
      button.textContent = open ? "\u00D7" : "\uD83D\uDCAC";
      if (open) frame.focus();
    });
    document.addEventListener("keydown", function (ev) {
      if (ev.key === "Escape" && frame.classList.contains("open")) { button.click(); button.focus(); }
    });
    document.body.appendChild(frame);
    document.body.appendChild(button);
  }

  if (document.body) mount();
  else document.addEventListener("DOMContentLoaded", mount);
})();

/* orderbot web chat: talks over a WebSocket when it can, over HTTP when it cannot.
   Plain browser JavaScript, no build step, nothing loaded from elsewhere. */
(function () {
  "use strict";
  var config = JSON.parse(document.getElementById("ob-config").textContent);
  var texts = config.texts;
  var log = document.getElementById("ob-log");
  var form = document.getElementById("ob-form");
  var input = document.getElementById("ob-input");
  var status = document.getElementById("ob-status");
  var suffix = config.embed ? "?embed=1" : "";
  var apiUrl = config.api + suffix;
  var wsUrl = (location.protocol === "https:" ? "wss://" : "ws://") + location.host + config.ws + suffix;
  var STORE = "ob-chat-transcript";
  var ws = null;
  var wsFailures = 0;
  var pending = {};   // client id -> {text, timer}: sent, not answered yet
  var answered = {};  // client ids whose replies are shown (an answer may come twice: socket and HTTP)
  var transcript = [];

  function newId() {
    var bytes = new Uint8Array(12);
    (window.crypto || window.msCrypto).getRandomValues(bytes);
    return Array.prototype.map.call(bytes, function (b) { return (b + 256).toString(16).slice(1); }).join("");
  }

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined && text !== null) node.textContent = text;
    return node;
  }

  function setStatus(text) { status.textContent = text || ""; }

  function scrollDown() { log.scrollTop = log.scrollHeight; }

  function remember(entry) {
    transcript.push(entry);
    transcript = transcript.slice(-60);
    try { sessionStorage.setItem(STORE, JSON.stringify(transcript)); } catch (e) { /* storage off: no history */ }
  }

  function showMine(text, keep) {
    var li = el("li", "msg me");
    li.appendChild(el("span", "who", texts.you));
    li.appendChild(el("p", "text", text));
    log.appendChild(li);
    if (keep !== false) remember({who: "me", text: text});
    scrollDown();
    return li;
  }

  function showReply(reply, keep) {
    var li = el("li", "msg bot");
    li.appendChild(el("span", "who", texts.bot));
    li.appendChild(el("p", "text", reply.text));
    if (reply.link && /^https?:\/\//i.test(reply.link)) {
      var a = el("a", "link", texts.open_link);
      a.href = reply.link;
      a.target = "_blank";
      a.rel = "noopener noreferrer";
      li.appendChild(a);
    }
    var buttons = reply.buttons || [];
    if (buttons.length) {
      var chips = el("div", "chips");
      chips.setAttribute("role", "group");
      chips.setAttribute("aria-label", texts.suggestions);
      buttons.forEach(function (b) {
        var chip = el("button", "chip", b.label);
        chip.type = "button";
        chip.addEventListener("click", function () { send(b.data); });
        chips.appendChild(chip);
      });
      li.appendChild(chips);
    }
    log.appendChild(li);
    if (keep !== false) remember({who: "bot", reply: reply});
    scrollDown();
  }

  function showError(text) {
    var li = el("li", "msg error", text);
    li.setAttribute("role", "alert");
    log.appendChild(li);
    scrollDown();
  }

  function settle(id) {
    var p = pending[id];
    if (p && p.timer) clearTimeout(p.timer);
    delete pending[id];
  }

  function onFrame(frame) {
    if (frame.id) {
      if (answered[frame.id]) return;
      if (frame.error) {
        settle(frame.id);
        showError(frame.error.status === 413 ? texts.too_long : texts.failed);
        return;
      }
      answered[frame.id] = true;
      settle(frame.id);
    }
    setStatus("");
    (frame.replies || []).forEach(function (r) { showReply(r); });
  }

  function post(id, text, attempt) {
    attempt = attempt || 0;
    var body = JSON.stringify({text: text, id: id, lang: config.lang});
    fetch(apiUrl, {method: "POST", credentials: "same-origin", body: body,
                   headers: {"Content-Type": "application/json", "Accept": "application/json"}})
      .then(function (r) {
        return r.json().catch(function () { return null; }).then(function (data) {
          if (r.ok && data) { onFrame({id: id, replies: data.replies}); return; }
          if (r.status >= 400 && r.status < 500) {
            onFrame({id: id, error: {status: r.status}});
            return;
          }
          throw new Error("HTTP " + r.status);
        });
      })
      .catch(function () {
        if (answered[id]) return;
        if (attempt >= 3) { settle(id); setStatus(""); showError(texts.failed); return; }
        setStatus(texts.offline);
        setTimeout(function () { post(id, text, attempt + 1); }, 1000 * Math.pow(2, attempt));
      });
  }

  function transmit(id, text) {
    if (ws && ws.readyState === 1) {
      try {
        ws.send(JSON.stringify({text: text, id: id, lang: config.lang}));
        // No answer on the socket in time: ask again over HTTP (the same id is answered once).
        pending[id].timer = setTimeout(function () { if (pending[id]) post(id, text); }, 15000);
        return;
      } catch (e) { /* fall through to HTTP */ }
    }
    post(id, text);
  }

  function send(text, quiet) {
    text = (text || "").trim();
    if (!text) return;
    if (text.length > config.max) { showError(texts.too_long); return; }
    if (!quiet) showMine(text);
    var id = newId();
    pending[id] = {text: text, timer: null};
    transmit(id, text);
  }

  function connect() {
    if (!("WebSocket" in window)) return;
    var sock;
    try { sock = new WebSocket(wsUrl); } catch (e) { return; }
    var opening = setTimeout(function () { if (sock.readyState !== 1) sock.close(); }, 5000);
    sock.onopen = function () { clearTimeout(opening); ws = sock; wsFailures = 0; };
    sock.onmessage = function (ev) {
      try { onFrame(JSON.parse(ev.data)); } catch (e) { /* not ours */ }
    };
    sock.onclose = function () {
      clearTimeout(opening);
      if (ws === sock) ws = null;
      Object.keys(pending).forEach(function (id) {  // unanswered on the socket: over HTTP now
        var p = pending[id];
        if (p.timer) { clearTimeout(p.timer); p.timer = null; post(id, p.text); }
      });
      wsFailures += 1;
      setTimeout(connect, Math.min(30000, 1000 * Math.pow(2, wsFailures)));
    };
  }

  function restore() {
    var saved = [];
    try { saved = JSON.parse(sessionStorage.getItem(STORE) || "[]"); } catch (e) { saved = []; }
    if (!Array.isArray(saved) || !saved.length) return;
    transcript = saved;
    saved.forEach(function (entry) {
      if (entry.who === "me") showMine(entry.text, false);
      else if (entry.reply) showReply(entry.reply, false);
    });
  }

  function grow() {
    input.style.height = "auto";
    input.style.height = Math.min(input.scrollHeight + 2, 200) + "px";
  }

  form.addEventListener("submit", function (ev) {
    ev.preventDefault();
    var text = input.value;
    if (text.trim().length > config.max) { showError(texts.too_long); return; }
    send(text);
    input.value = "";
    grow();
    input.focus();
  });
  input.addEventListener("keydown", function (ev) {
    // Enter sends; Shift+Enter is a new line; Enter that ends a Chinese IME composition does neither.
    if (ev.key === "Enter" && !ev.shiftKey && !ev.isComposing && ev.keyCode !== 229) {
      ev.preventDefault();
      form.requestSubmit ? form.requestSubmit() : form.dispatchEvent(new Event("submit", {cancelable: true}));
    }
  });
  input.addEventListener("input", grow);

  restore();
  connect();
  if (config.start) {
    send("/start " + config.start, true);
    try {  // the token is spent: keep it out of the history and of a reload
      var url = new URL(location.href);
      url.searchParams.delete("start");
      history.replaceState(null, "", url.pathname + url.search + url.hash);
    } catch (e) { /* an old browser keeps the address */ }
  }
  // Not on a phone: focusing the box would throw the keyboard over the page at once.
  if (!config.embed && !(window.matchMedia && matchMedia("(pointer: coarse)").matches)) input.focus();
})();

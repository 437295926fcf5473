// tidewire chat page: plain JavaScript, no build step.
// Every text from the network is put in the page with textContent, never as HTML.
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);
  const MAX_DELAY = 10000;

  const state = {
    nick: "",
    room: "",
    ws: null,
    wanted: false,   // true while the user is in a room (reconnect when dropped)
    attempt: 0,      // reconnect attempts since the last welcome
    timer: null,
    welcomed: false, // the current socket got its welcome (history) already
    pending: [],     // events that arrived before the welcome
    positions: {},   // room -> {epoch, offset} of the last event shown there
  };

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function clock(ts) {
    const date = ts ? new Date(ts) : new Date();
    return date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  }

  function setStatus(kind, text) {
    const status = $("status");
    status.dataset.state = kind;
    status.textContent = text;
  }

  function showView(name) {
    $("join-view").hidden = name !== "join";
    $("chat-view").hidden = name !== "chat";
  }

  // connection -------------------------------------------------------------------

  function connect() {
    clearTimeout(state.timer);
    // One socket per page: a second join (or a reconnect) replaces the current one.
    const previous = state.ws;
    state.ws = null;
    if (previous) previous.close(1000);
    setStatus("connecting", state.attempt ? "Reconnecting…" : "Connecting…");
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    const ws = new WebSocket(`${scheme}//${location.host}/ws`);
    state.ws = ws;
    state.welcomed = false;
    state.pending = [];
    ws.addEventListener("open", () => {
      if (state.ws !== ws) return;
      // With the last position seen in this room, the server sends what we missed.
      const since = state.positions[state.room] || null;
      ws.send(JSON.stringify({ type: "join", nick: state.nick, room: state.room, since }));
    });
    ws.addEventListener("message", (event) => {
      if (state.ws !== ws) return; // a replaced socket's last words
      let message;
      try {
        message = JSON.parse(event.data);
      } catch {
        return;
      }
      receive(message);
    });
    ws.addEventListener("close", (event) => {
      if (state.ws !== ws) return;
      state.ws = null;
      if (state.wanted) reconnectLater(event);
    });
  }

  function reconnectLater(event) {
    // Exponential backoff with jitter: 0.5 s, 1 s, 2 s ... up to 10 s.
    const base = Math.min(MAX_DELAY, 500 * 2 ** state.attempt);
    const delay = base / 2 + Math.random() * base / 2;
    state.attempt += 1;
    const why = event.code === 1013 ? "server busy" : "connection lost";
    setStatus("offline", `${why}, retrying in ${Math.max(1, Math.round(delay / 1000))} s`);
    state.timer = setTimeout(connect, delay);
  }

  function send(payload) {
    if (state.ws && state.ws.readyState === WebSocket.OPEN && state.welcomed) {
      state.ws.send(JSON.stringify(payload));
      return true;
    }
    return false;
  }

  // events from the server ---------------------------------------------------------

  function receive(message) {
    if (message.type === "welcome") {
      welcome(message);
    } else if (!state.welcomed) {
      if (message.type === "error") joinFailed(message.error);
      else state.pending.push(message);
    } else {
      render(message);
    }
  }

  function welcome(message) {
    state.welcomed = true;
    state.attempt = 0;
    state.nick = message.nick;
    state.room = message.room;
    $("room-title").textContent = message.room;
    $("me").textContent = message.nick;
    $("text").maxLength = message.limit || 500;
    document.title = `#${message.room} · tidewire chat`;
    setStatus("online", "Connected");
    const log = $("log");
    if (message.recovered) {
      // Everything missed came just before this welcome (in pending), in order.
      if (state.pending.length) log.append(el("li", "notice recovered", "Reconnected: caught up."));
    } else {
      // Starting over: the room's recent history replaces what was shown.
      log.replaceChildren();
      delete state.positions[message.room];
      for (const item of message.history) render(item, true);
      if (message.history.length === 0) {
        log.append(el("li", "notice", `Welcome to #${message.room}. Say hello!`));
      }
    }
    const pending = state.pending;
    state.pending = [];
    for (const item of pending) render(item);
    showMembers(message.members);
    showView("chat");
    $("text").focus();
    scrollDown(true);
  }

  function joinFailed(error) {
    state.wanted = false;
    if (state.ws) state.ws.close(1000);
    $("join-error").textContent = error;
    showView("join");
  }

  // True the first time an event of the room's stream is seen: history, recovered and
  // live events overlap at their seams, and each must be shown once.
  function isNew(message) {
    if (typeof message.offset !== "number" || typeof message.epoch !== "string") return true;
    const last = state.positions[state.room];
    if (last && last.epoch === message.epoch && message.offset <= last.offset) return false;
    state.positions[state.room] = { epoch: message.epoch, offset: message.offset };
    return true;
  }

  function render(message, fromHistory = false) {
    const stick = isAtBottom();
    if (message.type !== "error" && !isNew(message)) return;
    if (message.type === "message") {
      $("log").append(messageItem(message, fromHistory));
    } else if (message.type === "join" || message.type === "leave") {
      const verb = message.type === "join" ? "joined" : "left";
      const item = el("li", `notice ${message.type}`);
      item.append(el("strong", "", message.nick), ` ${verb} the room`, el("time", "", clock(message.ts)));
      $("log").append(item);
      showMembers(message.members);
    } else if (message.type === "error") {
      $("log").append(el("li", "notice error", message.error));
    } else {
      return;
    }
    scrollDown(stick);
  }

  function messageItem(message, fromHistory) {
    const mine = message.nick === state.nick;
    const item = el("li", `msg${mine ? " mine" : ""}${fromHistory ? " old" : ""}`);
    const meta = el("div", "meta");
    meta.append(el("span", "nick", message.nick), el("time", "", clock(message.ts)));
    item.append(meta, el("div", "text", message.text));
    return item;
  }

  function showMembers(members) {
    const list = $("members");
    list.replaceChildren(
      ...members.map((nick) => {
        const item = el("li", nick === state.nick ? "me" : "");
        item.append(el("span", "dot"), el("span", "name", nick));
        return item;
      }),
    );
    $("count").textContent = String(members.length);
  }

  function isAtBottom() {
    const log = $("log");
    return log.scrollHeight - log.scrollTop - log.clientHeight < 40;
  }

  function scrollDown(stick) {
    if (stick) $("log").scrollTop = $("log").scrollHeight;
  }

  // user actions ---------------------------------------------------------------------

  $("join-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const nick = $("nick").value.trim();
    const room = $("room").value.trim().toLowerCase();
    if (!nick) {
      $("join-error").textContent = "Pick a nickname.";
      return;
    }
    if (!/^[a-z0-9][a-z0-9_-]{0,31}$/.test(room)) {
      $("join-error").textContent = "Room: 1-32 of a-z, 0-9, - and _.";
      return;
    }
    $("join-error").textContent = "";
    localStorage.setItem("tidewire-chat", JSON.stringify({ nick, room }));
    state.nick = nick;
    state.room = room;
    state.wanted = true;
    state.attempt = 0;
    $("log").replaceChildren();
    delete state.positions[room]; // a new visit starts from the room's history
    showMembers([]);
    connect();
  });

  $("say-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const input = $("text");
    const text = input.value.trim();
    if (text && send({ type: "say", text })) input.value = "";
  });

  $("leave").addEventListener("click", () => {
    state.wanted = false;
    clearTimeout(state.timer);
    if (state.ws) state.ws.close(1000);
    state.ws = null;
    showView("join");
    $("nick").focus();
  });

  try {
    const saved = JSON.parse(localStorage.getItem("tidewire-chat") || "{}");
    if (typeof saved.nick === "string") $("nick").value = saved.nick;
    if (typeof saved.room === "string") $("room").value = saved.room;
  } catch {
    // nothing saved
  }
})();

"use strict";
(() => {
  // demo/chat.ts
  var ACK_TIMEOUT = 1e4;
  var $ = (sel) => document.querySelector(sel);
  var el = (tag, props = {}, ...kids) => {
    const e = Object.assign(document.createElement(tag), props);
    e.append(...kids);
    return e;
  };
  var status = $("#status");
  var state = {
    name: "",
    myId: "",
    open: false,
    current: "",
    rooms: /* @__PURE__ */ new Map()
  };
  var client;
  var recovery = document.querySelector('meta[name="recovery"]')?.content !== "off";
  var stats = { joins: 0, sessions: [], reloads: [] };
  globalThis.demo = stats;
  var settled = Promise.resolve();
  var countdown;
  function setStatus(kind, text) {
    status.dataset.state = kind;
    status.textContent = text;
    const ready = kind === "open";
    $("#text").disabled = !ready || !state.current;
    $("#send").disabled = !ready || !state.current;
  }
  function watchConnection(c) {
    const stopCountdown = () => {
      if (countdown) clearInterval(countdown);
      countdown = void 0;
    };
    c.on("open", () => {
      stopCountdown();
      state.open = true;
      setStatus("open", "connected");
      if (!recovery) settled = rejoin();
    });
    c.on("session", (s) => {
      stats.sessions.push({ ...s });
      state.myId = s.id;
      if (!s.restored) {
        settled = rejoin();
        return;
      }
      settled = Promise.resolve();
      if (s.recovered) setStatus("open", "connected \xB7 session restored");
    });
    c.on("unrecovered", (reason) => {
      void settled.then(() => reload(reason));
    });
    c.on("reconnect scheduled", (a) => {
      stopCountdown();
      state.open = false;
      const due = Date.now() + a.scheduled;
      const tick = () => {
        const s = Math.max(0, Math.ceil((due - Date.now()) / 1e3));
        setStatus("reconnecting", `reconnecting in ${s} s`);
      };
      tick();
      countdown = setInterval(tick, 250);
    });
    c.on("reconnect", () => {
      stopCountdown();
      setStatus("connecting", "connecting\u2026");
    });
    c.on("close", () => {
      state.open = false;
      if (status.dataset.state === "open") setStatus("connecting", "connection lost");
    });
    c.on("offline", () => {
      stopCountdown();
      state.open = false;
      setStatus("offline", "offline");
    });
    c.on("online", () => setStatus("connecting", "back online, connecting\u2026"));
    c.on("end", () => {
      stopCountdown();
      state.open = false;
      setStatus("ended", "disconnected: reload to rejoin");
    });
    c.on("error", (err) => console.warn("allspark client error", err));
    c.on("data", (data) => {
      if (state.current) notice(state.current, `\u{1F4E3} ${typeof data === "string" ? data : JSON.stringify(data)}`);
    });
  }
  function roomOf(name) {
    let r = state.rooms.get(name);
    if (!r) {
      r = { members: [], log: [], seen: /* @__PURE__ */ new Set(), unread: 0, typing: /* @__PURE__ */ new Map() };
      state.rooms.set(name, r);
    }
    return r;
  }
  function time(ts) {
    const d = ts ? new Date(ts) : /* @__PURE__ */ new Date();
    return d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  }
  function addLine(room, li) {
    const r = roomOf(room);
    r.log.push(li);
    if (room === state.current) {
      const list = $("#messages");
      list.append(li);
      list.scrollTop = list.scrollHeight;
    } else {
      r.unread++;
      renderRooms();
    }
  }
  function messageLine(m, cls = []) {
    const li = el(
      "li",
      { className: ["msg", ...cls].join(" ") },
      el("span", { className: "who", textContent: m.name }),
      el("span", { className: "text", textContent: m.text }),
      el("span", { className: "time", textContent: time(m.ts) })
    );
    li.dataset.key = lineKey(m);
    return li;
  }
  function notice(room, text) {
    addLine(room, el("li", { className: "notice", textContent: text }));
  }
  function renderRooms() {
    const ul = $("#rooms");
    ul.replaceChildren(...[...state.rooms.keys()].sort().map((name) => {
      const r = roomOf(name);
      const link = el("a", { href: "#", textContent: `# ${name}` });
      link.addEventListener("click", (e) => {
        e.preventDefault();
        show(name);
      });
      const leave = el("button", { type: "button", title: `leave ${name}`, textContent: "\xD7" });
      leave.addEventListener("click", () => void leaveRoom(name));
      const li = el(
        "li",
        { className: name === state.current ? "current" : "" },
        link,
        el("span", { className: "unread", textContent: r.unread ? String(r.unread) : "" }),
        leave
      );
      li.dataset.room = name;
      return li;
    }));
  }
  function renderMembers() {
    const r = state.current ? roomOf(state.current) : void 0;
    $("#members-title").textContent = r ? `Online in #${state.current} (${r.members.length})` : "Online";
    $("#members").replaceChildren(...(r?.members ?? []).map((m) => el("li", { className: m.name === state.name ? "me" : "", textContent: m.name })));
  }
  function renderTyping() {
    const r = state.current ? roomOf(state.current) : void 0;
    const names = r ? [...r.typing.values()].map((t) => t.name) : [];
    $("#typing").textContent = names.length === 0 ? "" : names.length === 1 ? `${names[0]} is typing\u2026` : `${names.slice(0, -1).join(", ")} and ${names[names.length - 1]} are typing\u2026`;
  }
  function show(room) {
    state.current = room;
    const r = roomOf(room);
    r.unread = 0;
    $("#room-title").textContent = `# ${room}`;
    $("#messages").replaceChildren(...r.log);
    renderRooms();
    renderMembers();
    renderTyping();
    setStatus(status.dataset.state ?? "idle", status.textContent ?? "");
  }
  async function joinRoom(room) {
    try {
      stats.joins++;
      const st = await client.request("join", { room });
      const known = state.rooms.has(room);
      roomOf(room).members = st.members;
      if (!known) notice(room, `you joined #${room}`);
      show(room);
    } catch (err) {
      alert(`could not join ${room}: ${err.message}`);
    }
  }
  async function leaveRoom(room) {
    try {
      await client.request("leave", { room });
    } catch (err) {
      if (err.code !== "disconnected") console.warn(err);
    }
    state.rooms.delete(room);
    const next = [...state.rooms.keys()].sort()[0] ?? "";
    if (next) show(next);
    else {
      state.current = "";
      $("#messages").replaceChildren();
      renderRooms();
      renderMembers();
    }
  }
  async function rejoin() {
    state.myId = await client.id();
    const rooms = state.rooms.size ? [...state.rooms.keys()] : ["lobby"];
    for (const room of rooms) {
      try {
        stats.joins++;
        const st = await client.request("join", { room });
        const fresh = !state.rooms.has(room);
        roomOf(room).members = st.members;
        if (fresh) notice(room, `you joined #${room}`);
      } catch (err) {
        console.warn("rejoin", room, err);
      }
    }
    show(state.current || rooms[0]);
  }
  var MAX_SEEN = 1e3;
  function see(r, id) {
    r.seen.add(id);
    if (r.seen.size > MAX_SEEN) r.seen.delete(r.seen.values().next().value);
  }
  function lineKey(m) {
    return m.id ? `id:${m.id}` : `line:${m.name}\0${m.text}\0${m.ts ?? ""}`;
  }
  async function reload(reason) {
    const rooms = [...state.rooms.keys()];
    let n = 0;
    for (const room of rooms) {
      const r = roomOf(room);
      r.pending = [];
      try {
        const h = await client.request("history", { room });
        r.members = h.members;
        if (h.history) {
          const pending = new Set(r.pending.map(({ li }) => li));
          const shown = /* @__PURE__ */ new Map();
          for (const li of r.log) if (li.dataset.key) shown.set(li.dataset.key, (shown.get(li.dataset.key) ?? 0) + 1);
          const fresh = h.messages.filter((m) => {
            const k = lineKey(m);
            const c = shown.get(k) ?? 0;
            if (c > 0) shown.set(k, c - 1);
            return c === 0;
          });
          for (const m of fresh) if (m.id) see(r, m.id);
          r.log = [
            ...r.log.filter((li) => !pending.has(li)),
            el("li", { className: "notice reload", textContent: `reloaded #${room} (${reason}): ${fresh.length} of the last ${h.messages.length} messages were new` }),
            ...fresh.map((m) => messageLine(m, m.from === state.myId ? ["mine"] : m.from ? [] : ["api"])),
            ...r.pending.map(({ li }) => li)
          ];
          stats.reloads.push({ room, reason, messages: fresh.length });
          n++;
        }
      } catch (err) {
        console.warn("reload", room, err);
      } finally {
        r.pending = void 0;
      }
    }
    if (state.current) show(state.current);
    setStatus("open", n ? `connected \xB7 missed messages lost (${reason}): reloaded ${n === 1 ? `#${rooms[0]}` : `${n} rooms`}` : `connected \xB7 missed messages lost (${reason})`);
  }
  var typingSent = false;
  var typingTimer;
  function typing(on) {
    if (!state.current || !state.open) return;
    if (typingTimer) clearTimeout(typingTimer);
    if (on) typingTimer = setTimeout(() => typing(false), 2500);
    if (on === typingSent) return;
    typingSent = on;
    client.emit("typing", { room: state.current, typing: on });
  }
  async function send(text) {
    const room = state.current;
    typing(false);
    const li = messageLine({ room, name: state.name, text }, ["mine", "pending"]);
    addLine(room, li);
    try {
      const m = await client.request("message", { room, text });
      if (m.id) see(roomOf(room), m.id);
      li.dataset.key = lineKey(m);
      li.classList.remove("pending");
      li.querySelector(".time").textContent = time(m.ts);
    } catch (err) {
      li.classList.remove("pending");
      li.classList.add("failed");
      li.title = err.message;
    }
  }
  function primusClient(name) {
    const url = new URL(location.href);
    url.pathname = "/";
    url.hash = "";
    url.search = new URLSearchParams({ name }).toString();
    const c = new Primus(url.toString(), {
      reconnect: { min: 1e3, max: 8e3, retries: Infinity },
      ackTimeout: ACK_TIMEOUT
    });
    watchConnection(c);
    globalThis.client = c;
    return {
      emit: (event, arg) => {
        c.emit(event, ...[arg]);
      },
      async request(event, arg) {
        const [reply] = await c.emitWithAck(event, ...[arg]);
        return reply;
      },
      on: (event, fn) => {
        c.on(event, fn);
      },
      id: async () => String(await c.id())
    };
  }
  function loadScript(src) {
    return new Promise((resolve, reject) => {
      const tag = el("script", { src });
      tag.onload = () => resolve();
      tag.onerror = () => reject(new Error(`could not load ${src}`));
      document.head.append(tag);
    });
  }
  function isMessage(x) {
    return typeof x === "object" && x !== null && typeof x.room === "string" && typeof x.text === "string";
  }
  async function socketIOClient(name) {
    await loadScript("/demo/vendor/socket.io.min.js");
    const io = globalThis.io;
    const path = document.querySelector('meta[name="socketio-path"]')?.content || "/socket.io/";
    const socket = io({ path, query: { name }, reconnectionDelay: 1e3, reconnectionDelayMax: 8e3 });
    watchSocketIO(socket);
    globalThis.socket = socket;
    return {
      emit: (event, arg) => {
        socket.emit(event, arg);
      },
      request: async (event, arg) => {
        const reply = await socket.timeout(ACK_TIMEOUT).emitWithAck(event, arg);
        const err = reply?.error;
        if (err && typeof err === "object") throw Object.assign(new Error(err.message ?? "request failed"), { code: err.code });
        return reply;
      },
      on: (event, fn) => {
        if (event !== "message") {
          socket.on(event, fn);
          return;
        }
        socket.on("message", (x) => {
          if (isMessage(x)) fn(x);
          else if (state.current) notice(state.current, `\u{1F4E3} ${typeof x === "string" ? x : JSON.stringify(x)}`);
        });
      },
      id: async () => socket.id ?? ""
    };
  }
  function watchSocketIO(socket) {
    socket.on("connect", () => {
      state.open = true;
      if (socket.recovered) {
        setStatus("open", "connected \xB7 session restored");
        return;
      }
      setStatus("open", "connected");
      settled = rejoin();
    });
    socket.on("disconnect", (reason) => {
      state.open = false;
      if (reason === "io server disconnect" || reason === "io client disconnect") setStatus("ended", "disconnected: reload to rejoin");
      else setStatus("reconnecting", "connection lost, reconnecting\u2026");
    });
    socket.on("connect_error", (err) => {
      if (!socket.active) setStatus("ended", `refused: ${err.message}`);
      else setStatus("reconnecting", "reconnecting\u2026");
    });
    socket.io.on("reconnect_attempt", () => setStatus("connecting", "connecting\u2026"));
    addEventListener("offline", () => {
      state.open = false;
      setStatus("offline", "offline");
    });
    addEventListener("online", () => {
      if (!socket.connected) setStatus("connecting", "back online, connecting\u2026");
    });
  }
  async function start(name) {
    state.name = name;
    $("#login").hidden = true;
    $("#chat").hidden = false;
    const me = $("#me");
    me.hidden = false;
    me.textContent = name;
    setStatus("connecting", "connecting\u2026");
    if (new URLSearchParams(location.search).get("client") === "socketio") {
      $("#client-lib").textContent = "socket.io-client (/demo/vendor/socket.io.min.js)";
      try {
        client = await socketIOClient(name);
      } catch (err) {
        setStatus("ended", err.message);
        return;
      }
    } else {
      client = primusClient(name);
    }
    client.on("message", (msg) => {
      const r = roomOf(msg.room);
      if (msg.id) {
        if (r.seen.has(msg.id)) return;
        see(r, msg.id);
      }
      const li = messageLine(msg, msg.from ? [] : ["api"]);
      r.pending?.push({ m: msg, li });
      addLine(msg.room, li);
      const t = roomOf(msg.room).typing.get(msg.from ?? "");
      if (t) {
        clearTimeout(t.timer);
        roomOf(msg.room).typing.delete(msg.from ?? "");
        renderTyping();
      }
    });
    client.on("presence_diff", (d) => {
      if (!state.rooms.has(d.room) || !d.user) return;
      const r = roomOf(d.room);
      const listed = r.members.some((m) => m.name === d.user);
      if (d.action === "join" && !listed) {
        r.members = [...r.members, { id: d.spark, name: d.user }].sort((a, b) => a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
        if (d.user !== state.name) notice(d.room, `${d.user} joined`);
      } else if (d.action === "leave" && d.sparks === 0 && listed) {
        r.members = r.members.filter((m) => m.name !== d.user);
        if (d.user !== state.name) notice(d.room, `${d.user} left`);
      } else return;
      if (d.room === state.current) renderMembers();
    });
    client.on("typing", (ev) => {
      const r = roomOf(ev.room);
      const prev = r.typing.get(ev.id);
      if (prev) clearTimeout(prev.timer);
      if (ev.typing) {
        r.typing.set(ev.id, { name: ev.name, timer: setTimeout(() => {
          r.typing.delete(ev.id);
          renderTyping();
        }, 6e3) });
      } else r.typing.delete(ev.id);
      if (ev.room === state.current) renderTyping();
    });
  }
  $("#login-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const name = $("#name").value.trim();
    if (name) void start(name);
  });
  $("#join-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const input = $("#room-input");
    const room = input.value.trim();
    input.value = "";
    if (room) void joinRoom(room);
  });
  $("#compose").addEventListener("submit", (e) => {
    e.preventDefault();
    const input = $("#text");
    const text = input.value.trim();
    input.value = "";
    if (text && state.current) void send(text);
  });
  $("#text").addEventListener("input", (e) => typing(e.target.value !== ""));
  var preset = new URLSearchParams(location.search).get("name");
  if (preset) void start(preset);
})();

// Kiosk at the commune one-stop desk: pick a language, tap the button and speak (or hold it),
// touch a picture, or type; hear the answer, print the papers to bring, take the QR code home.
// Plain script, no framework: it must start fast on an old desk PC and work with no internet.
"use strict";
(() => {
  const $ = (id) => document.getElementById(id);
  const config = JSON.parse($("kiosk-config").textContent);
  const params = new URLSearchParams(location.search);
  const idleSeconds = Number(params.get("idle")) || config.idleSeconds || 60;
  const listenSeconds = Number(params.get("listen")) || config.listenSeconds || 12;
  const VI = config.strings; // inside the page: failures can be told even with the service gone
  const PAGE = 12; // tiles per page, the last one turning the page when there are more
  const HOLD_MS = 600; // a press longer than this is hold-to-talk; shorter is a tap
  const player = $("player");
  const ptt = $("ptt");
  const state = {
    language: "vi", defaultLanguage: "vi", strings: VI, fromLanguage: {}, tiles: [], page: 0,
    capture: null, idleTimer: 0, queue: [], playlist: [], retry: null, textSize: 0, loaded: false,
  };
  const answers = new Map(); // "lang|code" -> answer: touched tiles keep working while the service is away
  const blobs = new Map(); // url -> object URL of audio or images already fetched
  const stringsCache = new Map([["vi", { strings: VI, from_language: {} }]]);

  const t = (key) => state.strings[key] || VI[key] || "";
  const setState = (name) => { document.body.dataset.state = name; };
  const status = (text) => { $("status").textContent = text || ""; };
  const shortName = (name) => {
    const text = name.replace(/^\s*thủ tục\s+/i, "").replace(/^./, (c) => c.toUpperCase());
    return text.length <= 90 ? text : `${text.slice(0, 90).replace(/[\s,;:]+\S*$/, "")}…`; // never cut a word
  };
  const unavailableUrl = (lang) => `/v1/prompts/${lang}/sys-unavailable?format=wav16k`;

  // Pictures for the tiles: simple strokes in a 24x24 box, drawn inline (no files to fetch).
  const ICONS = {
    baby: "M12 3.5a3.5 3.5 0 1 0 0 7a3.5 3.5 0 1 0 0-7zM6.5 21c0-5 2.5-8 5.5-8s5.5 3 5.5 8zM9 17l6 2",
    candle: "M9 10h6v11H9zM12 10V7M12 2.5c1.6 1.5 1.6 3 0 4.2c-1.6-1.2-1.6-2.7 0-4.2zM6 21h12",
    rings: "M9 9a5 5 0 1 0 0 10a5 5 0 1 0 0-10zM15 9a5 5 0 1 0 0 10a5 5 0 1 0 0-10zM10 3l2 3l2-3",
    heart: "M12 20s-7-4.5-7-10a4 4 0 0 1 7-2.5a4 4 0 0 1 7 2.5c0 5.5-7 10-7 10z",
    house: "M3 11l9-7l9 7M5 10v10h14V10M10 20v-6h4v6",
    key: "M8 11a4 4 0 1 0 0 8a4 4 0 1 0 0-8zM11 13l9-9M17 7l2 2M15 9l2 2",
    "id-card": "M3 6h18v12H3zM6 10a2 2 0 1 0 4 0a2 2 0 1 0-4 0M5 16c.5-2 1.5-3 3-3s2.5 1 3 3M13 10h5M13 13h5",
    stamp: "M9 4h6v4l-1 4h4v4H6v-4h4l-1-4zM5 20h14",
    elder: "M10 3.5a2 2 0 1 0 0 4a2 2 0 1 0 0-4zM10 9v6l-2 6M10 15l3 6M10 10l-3 3M10 10l4 2M17 12v9M17 12a1.5 1.5 0 0 0-3 0",
    wheelchair: "M10 3a1.5 1.5 0 1 0 0 3a1.5 1.5 0 1 0 0-3zM10 7v6h5l2 5M10 10h5M8 10a5 5 0 1 0 6 7",
    rice: "M3 11h18a9 9 0 0 1-18 0zM8 21h8M8 8c0-2 1.5-3 1.5-5M12 8c0-2 1.5-3 1.5-5M16 8c0-2 1.5-3 1.5-5",
    land: "M3 17l5-5l4 4l3-3l6 6M3 21h18M17 3a2 2 0 1 0 0 4a2 2 0 1 0 0-4z",
    build: "M3 20h18M3 15h18M3 10h18M3 10v10M21 10v10M9 10v5M15 10v5M6 15v5M12 15v5M18 15v5M7 10l5-6l5 6",
    health: "M12 3l7 3v6c0 4-3 7.5-7 9c-4-1.5-7-5-7-9V6zM12 9v6M9 12h6",
    school: "M3 6c3-1 6-1 9 1c3-2 6-2 9-1v12c-3-1-6-1-9 1c-3-2-6-2-9-1zM12 7v12",
    family: "M8 4a2.5 2.5 0 1 0 0 5a2.5 2.5 0 1 0 0-5zM16 6a2 2 0 1 0 0 4a2 2 0 1 0 0-4zM3 20c0-4 2-8 5-8s5 4 5 8M13 20c0-3 1.5-7 3-7s4 2 5 7",
    medal: "M8 3l4 6l4-6M12 9a6 6 0 1 0 0 12a6 6 0 1 0 0-12zM12 12l1 2h2l-1.5 1.5l.5 2l-2-1l-2 1l.5-2L9 14h2z",
    motorbike: "M5 14a3 3 0 1 0 0 6a3 3 0 1 0 0-6zM19 14a3 3 0 1 0 0 6a3 3 0 1 0 0-6zM5 17h4l4-5h4l2 5M13 7h3l1 5",
    work: "M3 8h18v11H3zM9 8V5h6v3M3 13h18",
    star: "M12 3l2.7 5.6l6.1.9l-4.4 4.3l1 6.1L12 17l-5.4 2.9l1-6.1l-4.4-4.3l6.1-.9z",
    shop: "M4 10v10h16V10M3 10l2-6h14l2 6zM9 20v-5h6v5",
    paper: "M6 3h8l4 4v14H6zM14 3v4h4M9 12h6M9 16h6",
    more: "M4 4h6v6H4zM14 4h6v6h-6zM4 14h6v6H4zM17 14v6M14 17h6",
    back: "M15 5l-7 7l7 7",
  };
  const SVG_NS = "http://www.w3.org/2000/svg";
  function icon(name) {
    const svg = document.createElementNS(SVG_NS, "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("aria-hidden", "true");
    const path = document.createElementNS(SVG_NS, "path");
    path.setAttribute("d", ICONS[name] || ICONS.paper);
    for (const [k, v] of [["fill", "none"], ["stroke", "currentColor"], ["stroke-width", "1.8"], ["stroke-linecap", "round"], ["stroke-linejoin", "round"]]) path.setAttribute(k, v);
    svg.append(path);
    return svg;
  }

  // Audio: a queue played in order (a tile's name, "not recorded in your language", the answer).
  function playAll(urls) {
    state.playlist = urls.filter(Boolean);
    state.queue = [...state.playlist];
    $("replay").hidden = !state.playlist.length;
    player.pause();
    playNext();
  }
  function playNext() {
    const url = state.queue.shift();
    if (!url) return;
    player.dataset.current = url;
    player.src = blobs.get(url) || url;
    player.play().catch(() => status(t("tap_to_play")));
  }
  player.addEventListener("ended", playNext);
  player.addEventListener("error", playNext); // one missing recording must not silence the rest
  player.addEventListener("playing", () => {
    const url = player.dataset.current;
    if (player.dataset.played === url && player.currentTime > 0.3) return; // resumed, not restarted
    player.dataset.played = url;
    player.dataset.playlog = `${player.dataset.playlog || ""} ${url}`.trim();
  });

  async function getJSON(url, options) {
    const response = await fetch(url, options);
    const body = await response.json().catch(() => ({}));
    if (!response.ok) throw Object.assign(new Error(body.error || `HTTP ${response.status}`), { status: response.status });
    return body;
  }
  async function keep(url) {
    if (!url || blobs.has(url)) return;
    const response = await fetch(url);
    if (response.ok) blobs.set(url, URL.createObjectURL(await response.blob()));
  }

  // Failures are told in words and out loud, with a way to try again.
  function fail(retry) {
    state.retry = retry || null;
    $("retry").hidden = !retry;
    status(t("unavailable"));
    setState("error");
    $("result").hidden = true; // an earlier answer beside the failure would read as its answer
    $("print").hidden = true;
    delete document.body.dataset.code;
    playAll([unavailableUrl(state.language)]);
  }
  $("retry").addEventListener("click", () => {
    const retry = state.retry;
    state.retry = null;
    $("retry").hidden = true;
    status("");
    if (retry) retry();
  });

  // The page's words in the chosen language; what nobody has written yet stays Vietnamese.
  function applyStrings() {
    for (const el of document.querySelectorAll("[data-s]")) {
      el.textContent = t(el.dataset.s);
      el.lang = state.fromLanguage[el.dataset.s] || state.language;
    }
    for (const el of document.querySelectorAll("[data-s-placeholder]")) el.placeholder = t(el.dataset.sPlaceholder);
    if (state.capture) $("ptt-label").textContent = t(state.capture.mode === "hold" ? "ptt_listening_hold" : "ptt_listening_tap");
  }

  async function selectLanguage(code) {
    state.language = code;
    document.documentElement.dataset.language = code;
    for (const b of $("languages").children) b.setAttribute("aria-pressed", String(b.dataset.code === code));
    let table = stringsCache.get(code);
    if (!table) {
      try {
        table = await getJSON(`/v1/kiosk/strings?language=${code}`);
        stringsCache.set(code, table);
      } catch (err) {
        table = { strings: VI, from_language: {} };
      }
    }
    if (state.language !== code) return; // another language was touched meanwhile
    state.strings = table.strings;
    state.fromLanguage = table.from_language;
    applyStrings();
    await keep(unavailableUrl(code)).catch(() => {}); // before anything can fail: it says the failure
    await loadTiles(code);
  }

  async function loadLanguages() {
    const languages = await getJSON("/v1/languages?channel=kiosk");
    state.defaultLanguage = languages[0].code;
    const buttons = languages.map((lang) => {
      const b = document.createElement("button");
      b.type = "button";
      b.className = "lang";
      b.dataset.code = lang.code;
      const native = document.createElement("span");
      native.className = "native";
      native.textContent = lang.name_native;
      const vi = document.createElement("span");
      vi.className = "vi";
      vi.textContent = lang.name_vi;
      b.append(native, vi);
      b.addEventListener("click", () => { playAll([lang.name_audio_url]); selectLanguage(lang.code).catch(() => fail()); });
      return b;
    });
    $("languages").replaceChildren(...buttons);
  }

  // Tiles: life events as pictures first, then every other essential procedure, page by page.
  async function loadTiles(lang) {
    const tiles = await getJSON(`/v1/kiosk/tiles?language=${lang}`);
    if (state.language !== lang) return;
    state.tiles = tiles;
    state.page = 0;
    renderTiles();
    prefetch(lang, tiles.slice(0, PAGE - 1));
  }

  function tileButton(label, iconName, onClick, extraClass) {
    const b = document.createElement("button");
    b.type = "button";
    b.className = `tile ${extraClass || ""}`.trim();
    const span = document.createElement("span");
    span.textContent = label;
    b.append(icon(iconName), span);
    b.addEventListener("click", onClick);
    return b;
  }

  function renderTiles() {
    const paged = state.tiles.length > PAGE;
    const perPage = paged ? PAGE - 1 : PAGE;
    const pages = Math.ceil(state.tiles.length / perPage);
    const shown = state.tiles.slice(state.page * perPage, (state.page + 1) * perPage);
    const buttons = shown.map((tile) => {
      const b = tileButton(tile.label, tile.icon, () => showAnswer(tile.code, null, tile.name_audio_url));
      b.dataset.code = tile.code;
      return b;
    });
    if (paged) {
      const last = state.page === pages - 1;
      buttons.push(tileButton(t(last ? "back_to_start" : "more"), last ? "back" : "more", () => {
        state.page = last ? 0 : state.page + 1;
        renderTiles();
      }, "nav"));
    }
    $("grid").replaceChildren(...buttons);
    $("grid").dataset.page = String(state.page);
  }

  // The first page's answers are fetched ahead, one after another, so touching a tile still
  // answers while the service restarts or the network drops for a moment.
  async function prefetch(lang, tiles) {
    let kept = 0;
    for (const tile of tiles) {
      if (state.language !== lang) return;
      try {
        const a = await answerFor(tile.code, lang);
        for (const url of [tile.name_audio_url, a.not_recorded_audio_url, a.answer_audio_url, a.qr_url]) await keep(url);
        kept += 1;
        document.body.dataset.cached = String(kept);
      } catch (err) {
        return; // the service is away: the next load tries again
      }
    }
  }

  async function answerFor(code, lang) {
    const key = `${lang}|${code}`;
    try {
      const a = await getJSON(`/v1/answers/${code}?language=${lang}&channel=kiosk`);
      answers.set(key, a);
      return a;
    } catch (err) {
      if (answers.has(key) && !err.status) return answers.get(key); // unreachable: the kept answer
      throw err;
    }
  }

  // Results.
  function showResult({ heard, title, text, facts, choices, decision }) {
    $("result").hidden = false;
    $("heard").textContent = heard ? `${t("heard")} “${heard}”` : "";
    $("answer-title").textContent = title || "";
    $("answer-text").textContent = text || "";
    fillFacts($("answer-facts"), facts || []);
    $("choices").replaceChildren(...(choices || []));
    $("not-recorded").hidden = true;
    $("qr").hidden = true;
    $("print").hidden = true;
    delete document.body.dataset.code;
    setState(decision);
  }

  function fillFacts(dl, facts) {
    dl.replaceChildren();
    for (const [label, value] of facts) {
      if (!value) continue;
      const dt = document.createElement("dt");
      dt.textContent = label;
      const dd = document.createElement("dd");
      dd.textContent = value;
      dl.append(dt, dd);
    }
  }

  async function showAnswer(code, heard, nameUrl) {
    const lang = state.language;
    let a;
    try {
      a = await answerFor(code, lang);
    } catch (err) {
      fail(() => showAnswer(code, heard, nameUrl));
      return;
    }
    status("");
    const facts = [[t("office"), a.agency], [t("time"), a.processing_time], [t("fee"), a.fee]];
    showResult({ heard, title: shortName(a.name), text: a.answer_text, facts: [...facts, [t("code"), a.code]], decision: "answer" });
    document.body.dataset.code = a.code;
    $("not-recorded").hidden = !a.not_recorded_audio_url;
    $("qr-img").src = blobs.get(a.qr_url) || a.qr_url;
    $("qr").hidden = false;
    $("print").hidden = false;
    fillPrintout(a, facts);
    playAll([nameUrl, a.not_recorded_audio_url, a.answer_audio_url]);
  }

  function fillPrintout(a, facts) {
    $("print-title").textContent = a.name; // on paper the full official name, as the desk knows it
    fillFacts($("print-facts"), [...facts, [t("code"), a.code]]);
    const items = a.documents.length
      ? a.documents.map((d) => (d.quantity ? `${d.name} (${d.quantity})` : d.name))
      : [t("documents_ask_desk")];
    $("print-documents").replaceChildren(...items.map((text) => Object.assign(document.createElement("li"), { textContent: text })));
    $("print-answer").textContent = a.answer_text;
    $("print-qr").src = blobs.get(a.qr_url) || a.qr_url;
  }
  $("print").addEventListener("click", () => window.print());

  function showMatch(match) {
    status("");
    if (match.decision === "answer" && match.matches.length) {
      showAnswer(match.matches[0].code, match.transcript, null);
      return;
    }
    const clarify = match.decision === "clarify";
    const seen = new Set();
    const options = clarify ? match.matches.filter((m) => !seen.has(shortName(m.name).toLowerCase()) && seen.add(shortName(m.name).toLowerCase())) : [];
    const choices = options.map((m, i) => {
      const b = document.createElement("button");
      b.type = "button";
      b.className = "choice";
      b.dataset.code = m.code;
      b.textContent = `${i + 1}. ${shortName(m.name)}`;
      b.addEventListener("click", () => showAnswer(m.code, match.transcript, m.title_audio_url));
      return b;
    });
    // Asking back: the question once (as the title), then the choices; each choice is read out.
    showResult({
      heard: match.transcript,
      title: clarify ? t("clarify_title") : "",
      text: clarify ? "" : match.answer_text,
      choices,
      decision: match.decision,
    });
    playAll([match.answer_audio_url, ...options.map((m) => m.title_audio_url)]);
  }

  async function askTyped(text) {
    player.pause();
    status(t("searching"));
    setState("searching");
    try {
      const match = await getJSON("/v1/search", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ text, language: state.language, channel: "kiosk", limit: 5 }),
      });
      showMatch({ ...match, transcript: text });
    } catch (err) {
      fail(() => askTyped(text));
    }
  }
  $("typed").addEventListener("submit", (e) => {
    e.preventDefault();
    const text = $("question").value.trim();
    if (text) askTyped(text);
  });

  $("text-size").addEventListener("click", () => {
    state.textSize = (state.textSize + 1) % 3;
    document.documentElement.dataset.textSize = String(state.textSize);
  });

  // Talking: a tap starts listening and the pause after the question ends it (or a second
  // tap, or the time limit); holding the button and letting go works as before.
  function meter(level) {
    const percent = Math.min(100, Math.round(Math.sqrt(level) * 180));
    $("meter-bar").style.width = `${percent}%`;
    $("meter").setAttribute("aria-valuenow", String(percent));
    $("meter").dataset.peak = String(Math.max(percent, Number($("meter").dataset.peak || 0)));
  }

  function cue(rising) {
    // Two short tones: rising when listening starts, falling when it stops.
    try {
      const ctx = state.cueCtx || (state.cueCtx = new AudioContext());
      const osc = ctx.createOscillator();
      const gain = ctx.createGain();
      const now = ctx.currentTime;
      osc.frequency.setValueAtTime(rising ? 660 : 880, now);
      osc.frequency.setValueAtTime(rising ? 880 : 660, now + 0.1);
      gain.gain.setValueAtTime(0.15, now);
      gain.gain.exponentialRampToValueAtTime(0.001, now + 0.22);
      osc.connect(gain).connect(ctx.destination);
      osc.start(now);
      osc.stop(now + 0.22);
      document.body.dataset.cues = String(Number(document.body.dataset.cues || 0) + 1);
    } catch (err) { /* no audio output: the red pulsing button still shows it */ }
  }

  async function startTalking() {
    player.pause();
    state.queue = [];
    const capture = { stopped: false, pending: [], finals: [], mode: null, pressedAt: performance.now() };
    state.capture = capture;
    ptt.classList.add("on");
    $("ptt-label").textContent = t("ptt_listening_tap");
    $("partial").textContent = "";
    status("");
    setState("listening");
    cue(true);
    capture.holdTimer = setTimeout(() => {
      if (!capture.mode && !capture.stopped) $("ptt-label").textContent = t("ptt_listening_hold");
    }, HOLD_MS);
    try {
      capture.stream = await navigator.mediaDevices.getUserMedia({
        audio: { channelCount: 1, echoCancellation: true, noiseSuppression: true, autoGainControl: true },
      });
      capture.ctx = new AudioContext({ sampleRate: 16000 });
      await capture.ctx.audioWorklet.addModule("/static/pcm-capture.js");
    } catch (err) {
      status(t("mic_error"));
      setState("error");
      closeMic(capture);
      $("question").focus();
      return;
    }
    const ws = new WebSocket(`${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/v1/stream`);
    ws.binaryType = "arraybuffer";
    capture.ws = ws;
    ws.onopen = () => {
      ws.send(JSON.stringify({ config: { sample_rate: capture.ctx.sampleRate, channel: "kiosk", language: state.language } }));
      for (const frame of capture.pending) ws.send(frame);
      capture.pending = [];
      if (capture.stopped) ws.send('{"eof": 1}');
    };
    ws.onmessage = (event) => {
      const message = JSON.parse(event.data);
      if (typeof message.partial === "string") {
        $("partial").textContent = [...capture.finals, message.partial].join(" ");
      } else if (typeof message.text === "string") {
        if (message.text) capture.finals.push(message.text);
        $("partial").textContent = capture.finals.join(" ");
        if (message.text && capture.mode === "tap") stopTalking(); // the pause after the question
      } else if (message.match) {
        capture.done = true;
        showMatch({ ...message.match, transcript: message.match.transcript || capture.finals.join(" ") });
      } else if (message.error) {
        capture.done = true;
        fail();
      }
    };
    ws.onclose = () => {
      // The server may end a stream early (restarting after the question it heard): stop listening.
      if (state.capture === capture) closeMic(capture);
      if (!capture.done) fail();
    };
    const source = capture.ctx.createMediaStreamSource(capture.stream);
    const node = new AudioWorkletNode(capture.ctx, "pcm-capture");
    node.port.onmessage = (event) => {
      if (capture.stopped) return;
      meter(event.data.level);
      if (ws.readyState === WebSocket.OPEN) ws.send(event.data.pcm);
      else capture.pending.push(event.data.pcm);
    };
    source.connect(node);
    node.connect(capture.ctx.destination); // the worklet outputs silence; the graph must reach a sink to run
    if (capture.stopped) stopTalking();
  }

  function closeMic(capture) {
    clearTimeout(capture.holdTimer);
    clearTimeout(capture.limitTimer);
    if (capture.stream) for (const track of capture.stream.getTracks()) track.stop();
    if (capture.ctx) capture.ctx.close();
    ptt.classList.remove("on");
    $("ptt-label").textContent = t("ptt_idle");
    meter(0);
    if (state.capture === capture) state.capture = null;
  }

  function stopTalking() {
    const capture = state.capture;
    if (!capture || capture.stopped) return;
    capture.stopped = true;
    if (!capture.ctx) return; // still opening the microphone: startTalking finishes the stop
    closeMic(capture);
    cue(false);
    status(t("searching"));
    setState("searching");
    if (capture.ws && capture.ws.readyState === WebSocket.OPEN) capture.ws.send('{"eof": 1}');
  }

  function press() {
    const capture = state.capture;
    if (capture) { if (capture.mode === "tap") stopTalking(); return; } // the second tap
    startTalking();
  }
  function letGo() {
    const capture = state.capture;
    if (!capture || capture.mode) return;
    if (performance.now() - capture.pressedAt >= HOLD_MS) {
      capture.mode = "hold";
      stopTalking();
    } else {
      capture.mode = "tap";
      $("ptt-label").textContent = t("ptt_listening_tap");
      capture.limitTimer = setTimeout(stopTalking, listenSeconds * 1000);
    }
  }
  ptt.addEventListener("pointerdown", (e) => { e.preventDefault(); ptt.setPointerCapture(e.pointerId); press(); });
  ptt.addEventListener("pointerup", letGo);
  ptt.addEventListener("pointercancel", letGo);
  ptt.addEventListener("keydown", (e) => { if ((e.key === " " || e.key === "Enter") && !e.repeat) { e.preventDefault(); press(); } });
  ptt.addEventListener("keyup", (e) => { if (e.key === " " || e.key === "Enter") letGo(); });
  ptt.addEventListener("click", (e) => e.preventDefault());
  ptt.addEventListener("contextmenu", (e) => e.preventDefault());
  $("replay").addEventListener("click", () => playAll(state.playlist));

  // Idle reset: the next person starts from a clean screen in the default language.
  function resetIdleTimer() {
    clearTimeout(state.idleTimer);
    state.idleTimer = setTimeout(() => {
      if (state.capture) return resetIdleTimer();
      player.pause();
      player.removeAttribute("src");
      state.queue = [];
      $("result").hidden = true;
      $("partial").textContent = "";
      $("question").value = "";
      $("retry").hidden = true;
      status("");
      delete document.body.dataset.code;
      state.textSize = 0;
      document.documentElement.dataset.textSize = "0";
      setState("idle");
      if (state.language !== state.defaultLanguage) selectLanguage(state.defaultLanguage).catch(() => {});
      else if (state.page) { state.page = 0; renderTiles(); }
    }, idleSeconds * 1000);
  }
  for (const type of ["pointerdown", "keydown"]) document.addEventListener(type, resetIdleTimer, true);

  // Start: languages, then the default language's words and tiles; if the service is not
  // there yet (a kiosk switched on before the server), say so and try again by itself.
  async function start() {
    try {
      await loadLanguages();
      await selectLanguage(state.defaultLanguage);
      state.loaded = true;
      status("");
      $("retry").hidden = true;
      setState("idle");
      resetIdleTimer();
    } catch (err) {
      status(t("unavailable"));
      setState("error");
      setTimeout(start, 5000);
    }
  }
  applyStrings();
  start();
})();

// Kiosk at the commune one-stop desk: pick a language, hold the button, speak, hear the answer.
// Plain script, no framework: it must start fast on an old desk PC and work with no internet.
"use strict";
(() => {
  const $ = (id) => document.getElementById(id);
  const meta = document.querySelector('meta[name="tthc-idle-seconds"]');
  const idleSeconds = Number(new URLSearchParams(location.search).get("idle")) || Number(meta && meta.content) || 60;
  const player = $("player");
  const ptt = $("ptt");
  const state = { language: "vi", defaultLanguage: "vi", capture: null, idleTimer: 0, lastAudio: null };

  const setState = (name) => { document.body.dataset.state = name; };
  const status = (text) => { $("status").textContent = text || ""; };

  function play(url) {
    state.lastAudio = url || null;
    $("replay").hidden = !url;
    if (!url) return;
    player.src = url;
    player.play().catch(() => status("Bấm “Nghe lại” để nghe câu trả lời"));
  }
  player.addEventListener("playing", () => { player.dataset.played = player.currentSrc; });

  async function getJSON(url) {
    const response = await fetch(url);
    const body = await response.json().catch(() => ({}));
    if (!response.ok) throw new Error(body.error || `HTTP ${response.status}`);
    return body;
  }

  const shortName = (name) => name.replace(/^\s*thủ tục\s+/i, "").replace(/^./, (c) => c.toUpperCase());

  // Languages: each shows its own name; touching one plays that name.
  function selectLanguage(code) {
    state.language = code;
    document.documentElement.dataset.language = code;
    for (const b of $("languages").children) b.setAttribute("aria-pressed", String(b.dataset.code === code));
  }

  async function loadLanguages() {
    const languages = await getJSON("/v1/languages?channel=kiosk");
    state.defaultLanguage = languages[0].code;
    for (const lang of languages) {
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
      b.addEventListener("click", () => { selectLanguage(lang.code); play(lang.name_audio_url); });
      $("languages").append(b);
    }
    selectLanguage(state.defaultLanguage);
  }

  async function loadEssentials() {
    const procedures = await getJSON("/v1/procedures?essential=true&limit=12");
    for (const p of procedures) {
      const b = document.createElement("button");
      b.type = "button";
      b.className = "tile";
      b.dataset.code = p.code;
      b.textContent = shortName(p.name);
      b.addEventListener("click", () => showAnswer(p.code, null));
      $("grid").append(b);
    }
  }

  // Results.
  function showResult({ heard, title, text, facts, choices, audio, decision }) {
    $("result").hidden = false;
    $("heard").textContent = heard ? `Bà con hỏi: “${heard}”` : "";
    $("answer-title").textContent = title || "";
    $("answer-text").textContent = text || "";
    const dl = $("answer-facts");
    dl.replaceChildren();
    for (const [label, value] of facts || []) {
      if (!value) continue;
      const dt = document.createElement("dt");
      dt.textContent = label;
      const dd = document.createElement("dd");
      dd.textContent = value;
      dl.append(dt, dd);
    }
    $("choices").replaceChildren(...(choices || []));
    setState(decision);
    play(audio);
  }

  async function showAnswer(code, heard) {
    try {
      const a = await getJSON(`/v1/answers/${code}?language=${state.language}&channel=kiosk`);
      showResult({
        heard,
        title: shortName(a.name),
        text: a.answer_text,
        facts: [["Nơi nộp", a.agency], ["Thời hạn", a.processing_time], ["Lệ phí", a.fee], ["Mã thủ tục", a.code]],
        audio: a.answer_audio_url,
        decision: "answer",
      });
      document.body.dataset.code = a.code;
    } catch (err) {
      status(`Lỗi: ${err.message}`);
      setState("error");
    }
  }

  function showMatch(match) {
    status("");
    if (match.decision === "answer" && match.matches.length) {
      showAnswer(match.matches[0].code, match.transcript);
      return;
    }
    const choices = match.decision === "clarify"
      ? match.matches.map((m, i) => {
          const b = document.createElement("button");
          b.type = "button";
          b.className = "choice";
          b.dataset.code = m.code;
          b.textContent = `${i + 1}. ${shortName(m.name)}`;
          b.addEventListener("click", () => showAnswer(m.code, match.transcript));
          return b;
        })
      : [];
    showResult({
      heard: match.transcript,
      title: match.decision === "clarify" ? "Bà con muốn hỏi thủ tục nào?" : "",
      text: match.answer_text,
      choices,
      audio: match.answer_audio_url,
      decision: match.decision,
    });
  }

  // Push to talk: microphone -> 16 kHz PCM over the vosk-server protocol -> partials, then the match.
  function meter(level) {
    const percent = Math.min(100, Math.round(Math.sqrt(level) * 180));
    $("meter-bar").style.width = `${percent}%`;
    $("meter").setAttribute("aria-valuenow", String(percent));
    $("meter").dataset.peak = String(Math.max(percent, Number($("meter").dataset.peak || 0)));
  }

  async function startTalking() {
    if (state.capture) return;
    player.pause();
    const capture = { stopped: false, pending: [], finals: [] };
    state.capture = capture;
    ptt.classList.add("on");
    $("ptt-label").textContent = "Đang nghe… nói xong thì thả tay";
    $("partial").textContent = "";
    status("");
    setState("listening");
    try {
      capture.stream = await navigator.mediaDevices.getUserMedia({
        audio: { channelCount: 1, echoCancellation: true, noiseSuppression: true, autoGainControl: true },
      });
      capture.ctx = new AudioContext({ sampleRate: 16000 });
      await capture.ctx.audioWorklet.addModule("/static/pcm-capture.js");
    } catch (err) {
      status("Không mở được micrô. Xin báo cán bộ một cửa.");
      setState("error");
      release(capture);
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
      } else if (message.match) {
        capture.done = true;
        showMatch(message.match);
      } else if (message.error) {
        capture.done = true;
        status(message.error);
        setState("error");
      }
    };
    ws.onerror = () => { status("Mất kết nối tới máy chủ"); setState("error"); };
    ws.onclose = () => {
      // The server may end a stream early (restarting after the question it heard): stop listening.
      if (state.capture === capture) release(capture);
      if (!capture.done) { status("Mất kết nối tới máy chủ. Xin bấm nút và nói lại."); setState("error"); }
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

  function release(capture) {
    if (capture.stream) for (const track of capture.stream.getTracks()) track.stop();
    if (capture.ctx) capture.ctx.close();
    ptt.classList.remove("on");
    $("ptt-label").textContent = "Bấm giữ nút này và nói";
    meter(0);
    if (state.capture === capture) state.capture = null;
  }

  function stopTalking() {
    const capture = state.capture;
    if (!capture) return;
    capture.stopped = true;
    if (!capture.ctx) return; // still opening the microphone: startTalking finishes the stop
    release(capture);
    status("Đang tìm câu trả lời…");
    setState("searching");
    if (capture.ws && capture.ws.readyState === WebSocket.OPEN) capture.ws.send('{"eof": 1}');
  }

  ptt.addEventListener("pointerdown", (e) => { e.preventDefault(); ptt.setPointerCapture(e.pointerId); startTalking(); });
  ptt.addEventListener("pointerup", stopTalking);
  ptt.addEventListener("pointercancel", stopTalking);
  ptt.addEventListener("keydown", (e) => { if ((e.key === " " || e.key === "Enter") && !e.repeat) { e.preventDefault(); startTalking(); } });
  ptt.addEventListener("keyup", (e) => { if (e.key === " " || e.key === "Enter") stopTalking(); });
  ptt.addEventListener("contextmenu", (e) => e.preventDefault());
  $("replay").addEventListener("click", () => play(state.lastAudio));

  // Idle reset: the next person starts from a clean screen in the default language.
  function resetIdleTimer() {
    clearTimeout(state.idleTimer);
    state.idleTimer = setTimeout(() => {
      if (state.capture) return resetIdleTimer();
      player.pause();
      player.removeAttribute("src");
      $("result").hidden = true;
      $("partial").textContent = "";
      status("");
      delete document.body.dataset.code;
      selectLanguage(state.defaultLanguage);
      setState("idle");
    }, idleSeconds * 1000);
  }
  for (const type of ["pointerdown", "keydown"]) document.addEventListener(type, resetIdleTimer, true);

  Promise.all([loadLanguages(), loadEssentials()])
    .then(() => { setState("idle"); resetIdleTimer(); })
    .catch((err) => { status(`Máy chủ chưa sẵn sàng: ${err.message}`); setState("error"); });
})();

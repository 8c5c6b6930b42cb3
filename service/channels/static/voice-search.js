// Voice search button for a provincial portal. One tag next to the search box:
//   <script src="https://tthc.example.gov.vn/widget/voice-search.js" data-input="#search" defer></script>
// Optional: data-language="hmn" (answer audio language), data-max-seconds="10".
// Clicking records with MediaRecorder, sends the clip to /v1/query, fills the search box with
// the transcript, lists the top procedures and offers to play the spoken answer. Where the
// microphone is blocked or missing, the panel offers to type the question (/v1/search). The
// portal can listen for the "tthc-voice-result" event on the input to run its own search.
"use strict";
(() => {
  const script = document.currentScript;
  if (!script) return;
  const base = new URL(script.src, location.href).origin;
  const input = document.querySelector(script.dataset.input || 'input[type="search"]');
  if (!input) {
    console.warn("tthc voice search: no element matches", script.dataset.input);
    return;
  }
  const language = script.dataset.language || "vi";
  const maxSeconds = Number(script.dataset.maxSeconds) || 10;

  const host = document.createElement("span");
  host.className = "tthc-voice-search";
  host.style.position = "relative";
  input.insertAdjacentElement("afterend", host);
  const root = host.attachShadow({ mode: "open" });
  root.innerHTML = `
<style>
  button { font: inherit; cursor: pointer; }
  .mic { width: 2.4em; height: 2.4em; border-radius: 50%; border: 1px solid #888; background: #fff; vertical-align: middle; padding: 0; }
  .mic.on { background: #b3261e; color: #fff; border-color: #b3261e; }
  .mic svg { width: 1.3em; height: 1.3em; vertical-align: middle; }
  .panel { position: fixed; z-index: 10000; background: #fff; color: #222;
           border: 1px solid #aaa; border-radius: .4em; box-shadow: 0 .3em 1em rgba(0,0,0,.2); padding: .6em; text-align: left; }
  .panel p { margin: .2em 0 .5em; }
  ol { margin: 0; padding-left: 1.4em; }
  li { margin: .3em 0; }
  .play { margin-left: .4em; border: 1px solid #1f4e8c; color: #1f4e8c; background: #fff; border-radius: .3em; }
  .close { float: right; border: none; background: none; font-size: 1.2em; }
  form { display: flex; gap: .4em; margin: 0 1.6em .3em 0; }
  form input { flex: 1; font: inherit; padding: .3em; border: 1px solid #888; border-radius: .3em; }
</style>
<button class="mic" type="button" aria-label="Tìm bằng giọng nói" title="Tìm bằng giọng nói">
  <svg viewBox="0 0 24 24" aria-hidden="true"><path fill="currentColor" d="M12 15a3 3 0 0 0 3-3V6a3 3 0 0 0-6 0v6a3 3 0 0 0 3 3zm5-3a5 5 0 0 1-10 0H5a7 7 0 0 0 6 6.92V22h2v-3.08A7 7 0 0 0 19 12z"/></svg>
</button>
<div class="panel" role="region" aria-live="polite" hidden></div>`;
  const button = root.querySelector(".mic");
  const panel = root.querySelector(".panel");
  const audio = new Audio();
  audio.addEventListener("playing", () => { host.dataset.played = audio.currentSrc; });
  let recorder = null;
  let stopTimer = 0;

  // Under the search box, kept inside the window wherever the portal put the box.
  function place() {
    if (panel.hidden) return;
    const box = input.getBoundingClientRect();
    const width = Math.min(480, window.innerWidth - 16);
    panel.style.width = `${width}px`;
    panel.style.left = `${Math.max(8, Math.min(box.left, window.innerWidth - width - 8))}px`;
    panel.style.top = `${box.bottom + 6}px`;
  }
  window.addEventListener("resize", place);
  window.addEventListener("scroll", place, true);

  function show(...nodes) {
    const close = document.createElement("button");
    close.className = "close";
    close.type = "button";
    close.setAttribute("aria-label", "Đóng");
    close.textContent = "×";
    close.addEventListener("click", () => { panel.hidden = true; audio.pause(); });
    panel.replaceChildren(close, ...nodes);
    panel.hidden = false;
    place();
  }

  function text(tag, value) {
    const el = document.createElement(tag);
    el.textContent = value;
    return el;
  }

  function playButton(label, getUrl) {
    const b = text("button", label);
    b.className = "play";
    b.type = "button";
    b.addEventListener("click", async () => {
      const url = await getUrl();
      if (!url) return;
      audio.src = new URL(url, base).href;
      audio.play().catch(() => {});
    });
    return b;
  }

  async function answerUrl(code) {
    const r = await fetch(`${base}/v1/answers/${code}?language=${encodeURIComponent(language)}&channel=web`);
    return r.ok ? (await r.json()).answer_audio_url : null;
  }

  function showResult(body, asked) {
    input.value = asked;
    input.dispatchEvent(new Event("input", { bubbles: true }));
    input.dispatchEvent(new CustomEvent("tthc-voice-result", { detail: body, bubbles: true }));
    const nodes = [text("p", body.answer_text)];
    if (body.answer_audio_url) {
      nodes[0].append(playButton(body.decision === "answer" ? "▶ Nghe hướng dẫn" : "▶ Nghe", async () => body.answer_audio_url));
    }
    // Out of scope means none of them is what was asked: listing them would contradict the text.
    if (body.matches.length && (body.decision === "answer" || body.decision === "clarify")) {
      const list = document.createElement("ol");
      for (const m of body.matches.slice(0, 3)) {
        const item = text("li", m.name);
        item.dataset.code = m.code;
        item.append(playButton("▶ Nghe", () => answerUrl(m.code)));
        list.append(item);
      }
      nodes.push(list);
    }
    show(...nodes);
  }

  // One request to the service, its reply shown in the panel; `refused` words any other 4xx.
  async function ask(path, init, question, refused) {
    try {
      const response = await fetch(`${base}${path}`, init);
      const body = await response.json().catch(() => ({}));
      if (response.ok) showResult(body, question === null ? body.transcript : question);
      else if (response.status === 503) show(text("p", "Hệ thống đang bận, xin thử lại sau ít giây."));
      else show(text("p", refused(body, response)));
    } catch (err) {
      show(text("p", "Không kết nối được tới máy chủ tra cứu."));
    }
  }

  function send(blob) {
    show(text("p", "Đang nhận dạng…"));
    const init = { method: "POST", headers: { "Content-Type": blob.type.split(";")[0] || "audio/webm" }, body: blob };
    ask(`/v1/query?channel=web&language=${encodeURIComponent(language)}`, init, null,
      (body, response) => `Không nghe rõ, xin nói lại. (${body.error || response.status})`);
  }

  // Typed question instead of speech: the same panel, answered by /v1/search.
  function typedSearch(reason) {
    const form = document.createElement("form");
    const field = document.createElement("input");
    field.type = "search";
    field.name = "q";
    field.value = input.value;
    field.setAttribute("aria-label", "Câu hỏi");
    field.placeholder = "Ví dụ: làm giấy khai sinh cho con";
    const submit = text("button", "Tìm");
    submit.type = "submit";
    submit.className = "play";
    form.append(field, submit);
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const question = field.value.trim();
      if (!question) return;
      show(text("p", "Đang tìm…"));
      const init = {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ text: question.slice(0, 500), language, channel: "web" }),
      };
      ask("/v1/search", init, question, () => "Không tìm được, xin viết câu hỏi khác.");
    });
    show(text("p", `${reason} Xin gõ câu hỏi:`), form);
    field.focus();
  }

  function stop() {
    clearTimeout(stopTimer);
    if (recorder && recorder.state === "recording") recorder.stop();
  }

  async function start() {
    let stream;
    try {
      if (!navigator.mediaDevices || !window.MediaRecorder) throw new Error("no recorder");
      stream = await navigator.mediaDevices.getUserMedia({ audio: { channelCount: 1, echoCancellation: true } });
    } catch (err) {
      typedSearch("Trình duyệt không cho dùng micrô.");
      return;
    }
    const type = ["audio/webm;codecs=opus", "audio/ogg;codecs=opus", "audio/mp4"].find(
      (t) => window.MediaRecorder && MediaRecorder.isTypeSupported(t),
    );
    const chunks = [];
    recorder = new MediaRecorder(stream, type ? { mimeType: type } : undefined);
    recorder.ondataavailable = (e) => { if (e.data.size) chunks.push(e.data); };
    recorder.onstop = () => {
      for (const track of stream.getTracks()) track.stop();
      button.classList.remove("on");
      button.setAttribute("aria-label", "Tìm bằng giọng nói");
      send(new Blob(chunks, { type: recorder.mimeType || type || "audio/webm" }));
      recorder = null;
    };
    recorder.start(250);
    button.classList.add("on");
    button.setAttribute("aria-label", "Dừng ghi âm");
    show(text("p", "Mời nói… bấm lại nút micrô khi nói xong."));
    stopTimer = setTimeout(stop, maxSeconds * 1000);
  }

  button.addEventListener("click", () => (recorder ? stop() : start()));
})();

/* The tip form's voice recorder (issue 21), loaded only when "Ghi âm" is tapped.
   Record, stop, listen, delete, with a visible timer and the server's cap; the recording
   goes into the form's own file input, so the normal post (or the outbox) carries it.
   Nothing leaves the phone until the form is sent. */
(function () {
  "use strict";
  var box = document.querySelector("[data-voice-recorder]");
  if (!box || window.tiplineVoice) return;
  var form = box.closest("form"), input = form && form.elements.voice;
  if (!input) return;
  var MAX = parseInt(box.getAttribute("data-max-seconds"), 10) || 120;
  var say = function (name) { return box.getAttribute("data-" + name) || ""; };
  var start = box.querySelector("[data-voice-start]");
  var stopButton = button(say("stop")), removeButton = button(say("delete"));
  var timer = document.createElement("span"), player = document.createElement("audio");
  var status = document.createElement("span");
  timer.className = "voice-timer";
  timer.setAttribute("role", "timer");
  status.className = "hint";
  status.setAttribute("aria-live", "polite");
  player.controls = true;
  // The optional disguise: higher and faster (pitch and formants move together). It makes
  // recognition harder; it is no guarantee, and slowing the note down undoes much of it.
  var disguise = document.createElement("label"), mask = document.createElement("input");
  var maskNote = document.createElement("small");
  mask.type = "checkbox";
  disguise.className = "choice";
  maskNote.textContent = say("disguise-note");
  var maskText = document.createElement("span");
  maskText.appendChild(document.createTextNode(say("disguise")));
  maskText.appendChild(document.createElement("br"));
  maskText.appendChild(maskNote);
  disguise.appendChild(mask);
  disguise.appendChild(document.createTextNode(" "));
  disguise.appendChild(maskText);
  if (!window.OfflineAudioContext) disguise.hidden = true;
  [stopButton, removeButton, player].forEach(function (e) { e.hidden = true; });
  [timer, stopButton, player, removeButton, disguise, status].forEach(function (e) { box.appendChild(e); });
  var recorder = null, chunks = [], began = 0, tick = null, cap = null, url = null;
  var original = null, RATE = 16000, SHIFT = 1.2;

  function button(text) {
    var b = document.createElement("button");
    b.type = "button";
    b.className = "button";
    b.textContent = text;
    return b;
  }
  function clock(seconds) {
    var s = Math.floor(seconds);
    return Math.floor(s / 60) + ":" + (s % 60 < 10 ? "0" : "") + (s % 60);
  }
  function show() {
    timer.textContent = clock((Date.now() - began) / 1000) + " / " + clock(MAX);
  }
  function kind() {
    var types = ["audio/webm;codecs=opus", "audio/ogg;codecs=opus", "audio/mp4", "audio/webm"];
    for (var i = 0; i < types.length; i++) {
      if (MediaRecorder.isTypeSupported && MediaRecorder.isTypeSupported(types[i])) return types[i];
    }
    return "";
  }
  function clear() {
    original = null;
    player.removeAttribute("src");
    player.load();
    if (url) URL.revokeObjectURL(url);
    url = null;
    player.hidden = removeButton.hidden = true;
    input.value = "";
    timer.textContent = "";
  }
  function extension(mime) {
    return mime.indexOf("wav") >= 0 ? ".wav" : mime.indexOf("ogg") >= 0 ? ".ogg"
      : mime.indexOf("mp4") >= 0 ? ".m4a" : ".webm";
  }
  function keep(blob) {
    if (url) URL.revokeObjectURL(url);
    var file = new File([blob], "ghi-am" + extension(blob.type), { type: blob.type });
    var list = new DataTransfer();
    list.items.add(file);
    input.files = list.files; // the form's own post carries it
    url = URL.createObjectURL(blob);
    player.src = url;
    player.hidden = removeButton.hidden = false;
    start.textContent = say("again");
    status.textContent = say("done");
  }
  function use() {
    if (!original) return;
    if (!mask.checked) return keep(original);
    status.textContent = "";
    disguised(original).then(keep, function () {
      mask.checked = false;
      keep(original);
      status.textContent = say("disguise-failed");
    });
  }
  function disguised(blob) {
    return blob.arrayBuffer().then(function (bytes) {
      return new OfflineAudioContext(1, 1, RATE).decodeAudioData(bytes);
    }).then(function (sound) {
      var length = Math.max(1, Math.ceil(sound.length / SHIFT));
      var context = new OfflineAudioContext(1, length, RATE);
      var source = context.createBufferSource();
      source.buffer = sound;
      source.playbackRate.value = SHIFT;
      source.connect(context.destination);
      source.start();
      return context.startRendering();
    }).then(function (rendered) { return wav(rendered.getChannelData(0), RATE); });
  }
  function wav(samples, rate) { // 16-bit PCM, mono: the server re-encodes it to Opus
    var view = new DataView(new ArrayBuffer(44 + samples.length * 2));
    var text = function (at, s) { for (var i = 0; i < s.length; i++) view.setUint8(at + i, s.charCodeAt(i)); };
    text(0, "RIFF"); view.setUint32(4, 36 + samples.length * 2, true); text(8, "WAVE");
    text(12, "fmt "); view.setUint32(16, 16, true); view.setUint16(20, 1, true);
    view.setUint16(22, 1, true); view.setUint32(24, rate, true); view.setUint32(28, rate * 2, true);
    view.setUint16(32, 2, true); view.setUint16(34, 16, true);
    text(36, "data"); view.setUint32(40, samples.length * 2, true);
    for (var i = 0; i < samples.length; i++) {
      var v = Math.max(-1, Math.min(1, samples[i]));
      view.setInt16(44 + i * 2, v < 0 ? v * 0x8000 : v * 0x7fff, true);
    }
    return new Blob([view], { type: "audio/wav" });
  }
  function record() {
    clear();
    status.textContent = "";
    navigator.mediaDevices.getUserMedia({ audio: true }).then(function (stream) {
      var type = kind();
      recorder = new MediaRecorder(stream, type ? { mimeType: type } : undefined);
      chunks = [];
      recorder.ondataavailable = function (e) { if (e.data && e.data.size) chunks.push(e.data); };
      recorder.onstop = function () {
        stream.getTracks().forEach(function (t) { t.stop(); });
        clearInterval(tick);
        clearTimeout(cap);
        var mime = (recorder.mimeType || type || "audio/webm").split(";")[0];
        var blob = new Blob(chunks, { type: mime });
        stopButton.hidden = true;
        start.hidden = false;
        recorder = null;
        if (!blob.size) { status.textContent = say("short"); return; }
        original = blob;
        use();
      };
      recorder.start(1000);
      began = Date.now();
      show();
      tick = setInterval(show, 250);
      cap = setTimeout(function () { if (recorder) recorder.stop(); }, MAX * 1000);
      start.hidden = true;
      stopButton.hidden = false;
      stopButton.focus();
    }, function () {
      status.textContent = say("denied");
    });
  }
  start.addEventListener("click", function () { if (!recorder) record(); });
  mask.addEventListener("change", use);
  stopButton.addEventListener("click", function () { if (recorder) recorder.stop(); });
  removeButton.addEventListener("click", function () {
    clear();
    status.textContent = say("deleted");
    start.textContent = say("record");
    start.focus();
  });
  window.tiplineVoice = true;
  record(); // the tap that loaded this script asked for a recording
})();

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
  [stopButton, removeButton, player].forEach(function (e) { e.hidden = true; });
  [timer, stopButton, player, removeButton, status].forEach(function (e) { box.appendChild(e); });
  var recorder = null, chunks = [], began = 0, tick = null, cap = null, url = null;

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
    player.removeAttribute("src");
    player.load();
    if (url) URL.revokeObjectURL(url);
    url = null;
    player.hidden = removeButton.hidden = true;
    input.value = "";
    timer.textContent = "";
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
        var ext = mime.indexOf("ogg") >= 0 ? ".ogg" : mime.indexOf("mp4") >= 0 ? ".m4a" : ".webm";
        var blob = new Blob(chunks, { type: mime });
        stopButton.hidden = true;
        start.hidden = false;
        recorder = null;
        if (!blob.size) { status.textContent = say("short"); return; }
        var file = new File([blob], "ghi-am" + ext, { type: mime });
        var list = new DataTransfer();
        list.items.add(file);
        input.files = list.files; // the form's own post carries it
        url = URL.createObjectURL(blob);
        player.src = url;
        player.hidden = removeButton.hidden = false;
        start.textContent = say("again");
        status.textContent = say("done");
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

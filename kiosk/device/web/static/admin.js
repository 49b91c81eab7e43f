// The librarian's own voice for a notice: recorded here as WAV (Web Audio; the kiosk needs
// nothing but sox to read it) and put into the form's file field, sent with the notice.
(function () {
  "use strict";
  var box = document.querySelector(".recorder[data-record]");
  var field = document.getElementById("n-voice");
  if (!box || !field || !navigator.mediaDevices || !window.AudioContext || !window.DataTransfer) return;
  box.hidden = false;
  var button = document.getElementById("n-record");
  var status = document.getElementById("n-recorded");
  var live = null;

  function wav(chunks, rate) {
    var length = chunks.reduce(function (n, c) { return n + c.length; }, 0);
    var view = new DataView(new ArrayBuffer(44 + length * 2));
    function text(at, s) { for (var i = 0; i < s.length; i++) view.setUint8(at + i, s.charCodeAt(i)); }
    text(0, "RIFF"); view.setUint32(4, 36 + length * 2, true); text(8, "WAVE"); text(12, "fmt ");
    view.setUint32(16, 16, true); view.setUint16(20, 1, true); view.setUint16(22, 1, true);
    view.setUint32(24, rate, true); view.setUint32(28, rate * 2, true);
    view.setUint16(32, 2, true); view.setUint16(34, 16, true);
    text(36, "data"); view.setUint32(40, length * 2, true);
    var at = 44;
    chunks.forEach(function (c) {
      for (var i = 0; i < c.length; i++, at += 2) {
        var s = Math.max(-1, Math.min(1, c[i]));
        view.setInt16(at, s < 0 ? s * 0x8000 : s * 0x7fff, true);
      }
    });
    return new Blob([view], { type: "audio/wav" });
  }

  function start() {
    navigator.mediaDevices.getUserMedia({ audio: true }).then(function (stream) {
      var context = new AudioContext();
      var source = context.createMediaStreamSource(stream);
      var tap = context.createScriptProcessor(4096, 1, 1);
      var chunks = [];
      tap.onaudioprocess = function (e) { chunks.push(new Float32Array(e.inputBuffer.getChannelData(0))); };
      source.connect(tap);
      tap.connect(context.destination);
      live = { stream: stream, context: context, tap: tap, chunks: chunks };
      button.textContent = box.dataset.stop;
      button.classList.add("on");
    }, function () { status.textContent = "—"; });
  }

  function stop() {
    live.tap.disconnect();
    live.stream.getTracks().forEach(function (t) { t.stop(); });
    var file = new File([wav(live.chunks, live.context.sampleRate)], "notice.wav", { type: "audio/wav" });
    live.context.close();
    live = null;
    var list = new DataTransfer();
    list.items.add(file);
    field.files = list.files;
    button.textContent = box.dataset.record;
    button.classList.remove("on");
    status.textContent = box.dataset.recorded;
  }

  button.addEventListener("click", function () { live ? stop() : start(); });
})();

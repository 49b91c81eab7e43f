// The studio's recorder: the browser's microphone through MediaRecorder, sent as it is to
// the studio, which trims and levels it. Without JavaScript the file form does the same.
(function () {
  "use strict";
  var box = document.getElementById("recorder");
  if (!box || !window.MediaRecorder || !navigator.mediaDevices) return;
  box.hidden = false;
  var button = document.getElementById("record");
  var status = document.getElementById("status");
  var recorder = null;
  var chunks = [];

  function say(text) { status.textContent = text; }

  function start() {
    navigator.mediaDevices.getUserMedia({ audio: true }).then(function (stream) {
      chunks = [];
      recorder = new MediaRecorder(stream);
      recorder.ondataavailable = function (e) { if (e.data.size) chunks.push(e.data); };
      recorder.onstop = function () {
        stream.getTracks().forEach(function (t) { t.stop(); });
        send(new Blob(chunks, { type: recorder.mimeType || "audio/webm" }));
        recorder = null;
      };
      recorder.start();
      button.classList.add("on");
      button.textContent = "■ Stop";
      say("Recording… read the sentence, then press Space or Stop.");
    }, function () {
      say("The microphone cannot be used. Allow it in the browser, or send a file below.");
    });
  }

  function stop() {
    if (!recorder) return;
    recorder.stop();
    button.classList.remove("on");
    button.textContent = "● Record";
    say("Saving…");
  }

  function send(blob) {
    fetch(box.dataset.post, {
      method: "POST", body: blob,
      headers: { "Content-Type": blob.type, "Accept": "application/json" }
    }).then(function (r) { return r.json(); }).then(function (answer) {
      if (!answer.ok) { say(answer.problem); return; }
      var words = "Saved (" + answer.seconds.toFixed(1) + " s).";
      if (answer.warnings.length) words += " " + answer.warnings.join(" ");
      // Show it as the page shows a saved take: with its player, ready to listen back.
      var url = location.pathname + location.search.replace(/([?&])(warning|problem)=[^&]*/g, "");
      sessionStorage.setItem("studio-said", words);
      location.replace(url);
    }, function () { say("The take could not be sent. Is the studio still running?"); });
  }

  var said = sessionStorage.getItem("studio-said");
  if (said) { say(said); sessionStorage.removeItem("studio-said"); }

  button.addEventListener("click", function () { recorder ? stop() : start(); });
  document.addEventListener("keydown", function (e) {
    if (e.target.tagName === "INPUT") return;
    if (e.target.tagName === "BUTTON" && e.key === " ") return; // the button's own click
    var rtl = box.dataset.rtl === "1";
    if (e.key === " ") { e.preventDefault(); recorder ? stop() : start(); }
    var back = rtl ? "ArrowRight" : "ArrowLeft";
    var on = rtl ? "ArrowLeft" : "ArrowRight";
    if (e.key === back && box.dataset.previous && !recorder) location.href = box.dataset.previous;
    if (e.key === on && box.dataset.next && !recorder) location.href = box.dataset.next;
  });
})();

// Adds to pages that already work without JavaScript: Listen buttons that highlight the
// sentence being read, a spoken language choice, and on the touchscreen an idle reset that
// leaves nothing of the last visitor behind.
(function () {
  "use strict";
  document.documentElement.classList.add("js");
  var body = document.body;
  var screen = body.dataset.channel === "screen";
  var audio = new Audio();
  audio.preload = "none";
  var active = null, stopAt = 0, lastSentence = -1, frame = 0;
  var timingsEl = document.getElementById("timings");
  var timings = timingsEl ? JSON.parse(timingsEl.textContent) : [];

  function sentenceAt(ms) {
    for (var i = 0; i < timings.length; i++) {
      if (ms < timings[i][1]) return ms >= timings[i][0] - 200 ? i : i - 1;
    }
    return -1;
  }
  function highlight(n) {
    if (n === lastSentence) return;
    document.querySelectorAll("[data-s].reading").forEach(function (el) { el.classList.remove("reading"); });
    lastSentence = n;
    if (n < 0) return;
    var parts = document.querySelectorAll('[data-s="' + n + '"]');
    parts.forEach(function (el) { el.classList.add("reading"); });
    if (parts.length) parts[0].scrollIntoView({ block: "center", behavior: "smooth" });
  }
  // Tell the kiosk's counters that listening started or finished: the guide, the language
  // and the channel, nothing more. Without script nothing is sent, and nothing breaks.
  function report(event) {
    var guide = active && active.closest(".guide");
    if (!guide || !navigator.sendBeacon) return;
    var data = new FormData();
    data.append("event", event);
    data.append("channel", body.dataset.channel);
    navigator.sendBeacon(guide.dataset.listen, data);
  }
  function tick() {
    var ms = audio.currentTime * 1000;
    if (ms >= stopAt) { report("finish"); stop(); return; }
    if (timings.length && active && active.closest(".guide")) highlight(sentenceAt(ms));
    frame = requestAnimationFrame(tick);
  }
  // While a button plays it says Stop (its words and its picture), and a Stop button floats
  // at the bottom of the screen whenever the playing one has scrolled out of sight.
  function label(button, playing) {
    var words = button.lastChild, icon = button.querySelector("use");
    if (!button.dataset.labelListen) {
      button.dataset.labelListen = words.textContent;
      button.dataset.ariaListen = button.getAttribute("aria-label") || "";
    }
    var stopWord = button.dataset.labelStop || floating.dataset.word;
    words.textContent = playing ? " " + stopWord : button.dataset.labelListen;
    if (icon) icon.setAttribute("href", playing ? "#i-stop" : "#i-speaker");
    var aria = button.dataset.ariaListen;
    if (aria) button.setAttribute("aria-label", playing ? aria.replace(/^[^:]*/, stopWord) : aria);
  }
  var floating = document.createElement("button");
  floating.type = "button";
  floating.className = "btn stop-float";
  floating.hidden = true;
  floating.dataset.word = (document.querySelector("[data-label-stop]") || { dataset: {} }).dataset.labelStop || "■";
  floating.innerHTML = '<svg class="icon" aria-hidden="true"><use href="#i-stop"/></svg> ';
  floating.appendChild(document.createTextNode(floating.dataset.word));
  floating.addEventListener("click", function () { stop(); });
  body.appendChild(floating);
  var inView = true;
  var watcher = window.IntersectionObserver && new IntersectionObserver(function (entries) {
    inView = entries[entries.length - 1].isIntersecting;
    floating.hidden = !active || inView;
  });
  function stop() {
    audio.pause();
    cancelAnimationFrame(frame);
    highlight(-1);
    if (active) {
      active.classList.remove("playing");
      label(active, false);
      if (watcher) watcher.unobserve(active);
    }
    active = null;
    floating.hidden = true;
  }
  function play(button) {
    var src = new URL(button.dataset.src, location.href).href;
    stop();
    active = button;
    stopAt = Number(button.dataset.end);
    button.classList.add("playing");
    label(button, true);
    if (watcher) watcher.observe(button); else floating.hidden = false;
    if (audio.src !== src) audio.src = src;
    var start = function () {
      audio.currentTime = Number(button.dataset.start) / 1000;
      audio.play().then(function () {
        report("start");
        frame = requestAnimationFrame(tick);
      }).catch(stop);
    };
    if (audio.readyState >= 1) start(); else audio.addEventListener("loadedmetadata", start, { once: true });
    audio.load && audio.readyState < 1 && audio.load();
  }
  audio.addEventListener("ended", function () { report("finish"); stop(); });
  document.querySelectorAll("button.listen").forEach(function (b) {
    b.hidden = false;
    b.addEventListener("click", function () { active === b ? stop() : play(b); });
  });
  // Tapping a language says its name in that language, then opens it.
  document.querySelectorAll("a[data-say]").forEach(function (a) {
    a.addEventListener("click", function (event) {
      event.preventDefault();
      a.classList.add("going");  // seen at once, while its name is said
      var go = function () { navigate(a.href); };
      var voice = new Audio(a.dataset.say);
      voice.addEventListener("ended", go);
      voice.play().catch(go);
      setTimeout(go, 2500);
    });
  });
  function navigate(href) {
    // The touchscreen never builds a history: nothing of one visitor is left for the next.
    if (screen) location.replace(href); else location.href = href;
  }
  window.kiosk = { stop: stop, play: play, highlight: highlight, navigate: navigate };
  if (!screen) return;

  // The physical buttons (and the motion sensor) reach the page through these two calls.
  var chosen = -1;
  function choices() {
    return Array.prototype.slice.call(document.querySelectorAll("a.language, .tile > a"));
  }
  function say(url, volume) {
    var voice = new Audio(url);
    voice.volume = volume || 1;
    return voice.play().catch(function () {});
  }
  window.kiosk.press = function (name) {
    touched();
    if (name === "home") {
      var homeLink = document.querySelector("a.btn.home");
      navigate(homeLink ? homeLink.href : body.dataset.home);
      return;
    }
    if (name === "language") { navigate(body.dataset.home); return; }
    if (location.pathname.indexOf("/screen/attract") === 0) { navigate(body.dataset.home); return; }
    if (document.querySelector(".guide")) {
      if (name === "listen") {
        var whole = document.querySelector("button.listen.big");
        if (active) stop(); else if (whole) play(whole);
        return;
      }
      var link = document.querySelector(name === "next" ? "a[rel=next]" : "a[rel=prev]");
      if (link) navigate(link.href);
      return;
    }
    var list = choices();
    if (!list.length) return;
    if (name === "listen") {
      if (chosen >= 0) navigate(list[chosen].href);
      return;
    }
    chosen = name === "next" ? (chosen + 1) % list.length : (chosen <= 0 ? list.length - 1 : chosen - 1);
    list.forEach(function (el) { el.classList.remove("chosen"); });
    var el = list[chosen];
    el.classList.add("chosen");
    el.focus();
    el.scrollIntoView({ block: "center" });
    if (el.dataset.say) say(el.dataset.say);
    else {
      var titleButton = el.parentElement.querySelector("button.listen");
      if (titleButton) play(titleButton);
    }
  };
  window.kiosk.wake = function () {
    touched();
    if (location.pathname.indexOf("/screen/attract") === 0) navigate(body.dataset.home);
  };
  window.kiosk.greet = function (urls) {
    // Softly, one language after another: the languages used most at this kiosk.
    var next = function (i) { if (i < urls.length) say(urls[i], 0.4).then(function () { setTimeout(function () { next(i + 1); }, 300); }); };
    next(0);
  };

  document.querySelectorAll("a[href]").forEach(function (a) {
    if (a.dataset.say || a.getAttribute("href").charAt(0) === "#") return;
    a.addEventListener("click", function (event) { event.preventDefault(); navigate(a.href); });
  });
  document.addEventListener("contextmenu", function (event) { event.preventDefault(); });
  document.querySelectorAll("form[method=post]").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var data = new FormData(form);
      if (event.submitter && event.submitter.name) data.append(event.submitter.name, event.submitter.value);
      fetch(form.action, { method: "POST", body: data })
        .then(function (r) {
          // fetch drops the fragment of where it was sent: the answer opens where it was asked.
          var url = new URL(r.url);
          if (form.closest("#helpful")) url.hash = "helpful";
          navigate(url.href);
        })
        .catch(function () { navigate(location.href); });
    });
  });
  document.querySelectorAll("form[method=get]").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var url = new URL(form.action);
      url.search = new URLSearchParams(new FormData(form)).toString();
      navigate(url.href);
    });
  });
  // The librarian's way in: hold a finger on the top-left corner for three seconds.
  var hold = 0;
  document.addEventListener("pointerdown", function (event) {
    if (event.clientX > 60 || event.clientY > 60) return;
    hold = setTimeout(function () { navigate("/admin/"); }, 3000);
  });
  ["pointerup", "pointercancel", "pointermove"].forEach(function (name) {
    document.addEventListener(name, function (event) {
      if (name !== "pointermove" || event.clientX > 60 || event.clientY > 60) clearTimeout(hold);
    });
  });
  var idleMs = Number(body.dataset.idle || 90) * 1000, timer = 0;
  var librarian = /^\/admin(\/|$)/.test(location.pathname), saidAlive = 0;
  function reset() {
    stop();
    // From a page, back to the language choice; from the language choice, to the attract screen.
    var home = body.dataset.home, gone = false;
    var go = function () {
      if (gone) return;
      gone = true;
      location.replace(location.pathname === home && body.dataset.attract ? body.dataset.attract : home);
    };
    var csrf = document.querySelector("input[name=csrf]");
    if (!librarian || !csrf) { go(); return; }
    // The librarian walked away: sign out first, so the next visitor finds no dashboard.
    var data = new FormData();
    data.append("csrf", csrf.value);
    fetch("/admin/sign-out", { method: "POST", body: data, redirect: "manual", keepalive: true })
      .then(go, go);
    setTimeout(go, 3000);
  }
  function touched() {
    clearTimeout(timer);
    timer = setTimeout(reset, idleMs);
    // The server ends a quiet screen session by itself (even if this script fails); typing a
    // notice makes no request, so say "still here" now and then while the page is touched.
    if (librarian && Date.now() - saidAlive > 5000) {
      saidAlive = Date.now();
      fetch("/admin/alive", { cache: "no-store" }).catch(function () {});
    }
  }
  ["pointerdown", "keydown", "touchstart", "wheel"].forEach(function (name) {
    document.addEventListener(name, touched, { passive: true });
  });
  touched();

  // The attract screen: one language after another; now and then, a spoken invitation.
  var slides = document.querySelectorAll(".attract .slide");
  if (slides.length) {
    var shown = 0;
    setInterval(function () {
      slides[shown].hidden = true;
      shown = (shown + 1) % slides.length;
      slides[shown].hidden = false;
    }, 6000);
    var box = document.querySelector(".attract");
    var every = Number(box.dataset.inviteMinutes) * 60000;
    var quiet = (box.dataset.quiet || "").split("-").map(Number);
    var silent = function () {
      var h = new Date().getHours();
      if (quiet.length !== 2 || isNaN(quiet[0])) return false;
      return quiet[0] > quiet[1] ? h >= quiet[0] || h < quiet[1] : h >= quiet[0] && h < quiet[1];
    };
    if (every > 0) setInterval(function () {
      var invite = slides[shown].dataset.invite;
      if (invite && !silent()) say(invite, 0.6);
    }, every);
  }
})();

"""The touchscreen window: pywebview, fullscreen, on the local server's screen channel.

Shows a friendly "starting" page until the server answers; watches the page and reloads it
when it goes blank or its web process dies (the most common complaint about Pi kiosks);
closes cleanly on SIGTERM or SIGINT. Physical buttons reach the page through ``run_js``
(as-is JavaScript; pywebview's evaluate_js wraps code in eval, which the pages' CSP forbids).

On Raspberry Pi OS Bookworm this needs Debian's python3-gi and gir1.2-webkit2-4.1 (the kiosk's
virtual environment sees them through --system-site-packages) and fonts-noto-core.
"""

from __future__ import annotations

import json
import logging
import signal
import threading
import time
import urllib.request
from collections.abc import Callable
from urllib.parse import urlsplit

log = logging.getLogger("kiosk.display")

STARTING = """<!doctype html><html><head><meta charset="utf-8"><style>
body{margin:0;height:100vh;display:flex;align-items:center;justify-content:center;
background:#1d3557;color:#fff;font:28px system-ui,"Noto Sans",sans-serif}
</style></head><body><p>Starting… · सुरु हुँदैछ… · Iniciando… · جارٍ البدء… · Pornește…</p>
</body></html>"""
CHECK_SECONDS = 5
BLANK_CHECKS = 2  # this many blank answers in a row means the page is gone


def server_ready(url: str, timeout: float = 2.0) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 - loopback
            return response.status == 200
    except OSError:
        return False


class Display:
    """One fullscreen window and the thread that keeps it alive."""

    def __init__(
        self, url: str, on_ready: Callable[[Display], object] | None = None, settings=None
    ) -> None:
        import webview

        self.url = url
        self.settings = settings
        self.on_ready = on_ready
        self.reloads = 0
        self.started = time.monotonic()
        self.first_page_seconds: float | None = None
        self._stop = threading.Event()
        self.window = webview.create_window(
            "First Mile kiosk", html=STARTING, fullscreen=True, zoomable=False,
            text_select=False, confirm_close=False, background_color="#1d3557",
        )  # fmt: skip

    def run_js(self, script: str):
        """Run JavaScript in the open page as it is (no eval), from any thread."""
        try:
            return self.window.run_js(script)
        except Exception:
            return None

    def reload(self) -> None:
        self.reloads += 1
        log.warning("the page was blank or its web process died; loading it again")
        self.window.load_url(self.url)

    def _page_alive(self) -> bool:
        """True when the kiosk's own page (not the starting screen) has text on it."""
        origin = json.dumps(urlsplit(self.url)._replace(path="", query="", fragment="").geturl())
        text = self.run_js(
            f"(location.href.indexOf({origin}) === 0 && document.body) "
            "? document.body.innerText.length : 0"
        )
        try:
            return int(text or 0) > 0
        except (TypeError, ValueError):
            return False

    def _watch(self) -> None:
        while not self._stop.is_set() and not server_ready(self.url):
            self._stop.wait(0.5)
        if self._stop.is_set():
            return
        self.window.load_url(self.url)
        while not self._stop.is_set() and not self._page_alive():
            self._stop.wait(0.2)
        self.first_page_seconds = time.monotonic() - self.started
        log.warning("first page shown after %.1f s", self.first_page_seconds)
        self._hook_crashes()
        if self.on_ready is not None:
            threading.Thread(target=self.on_ready, args=(self,), daemon=True).start()
        blank = 0
        while not self._stop.wait(CHECK_SECONDS):
            blank = 0 if self._page_alive() else blank + 1
            if blank >= BLANK_CHECKS:
                blank = 0
                self.reload()
            self._update_lights()

    def _update_lights(self) -> None:
        """The Listen light: is there something to hear here? The status light: how are we?"""
        controls = getattr(self, "controls", None)
        if controls is None:
            return
        audible = self.run_js("document.querySelector('button.listen:not([hidden])') ? 1 : 0")
        controls.audio_available(bool(audible))
        if self.settings is not None:
            from kiosk.device.sync import read_state

            state = read_state(self.settings.data_dir)
            wanted = (
                "syncing"
                if state.get("running")
                else ("problem" if state.get("ok") is False else "ok")
            )
            if controls.status.state != wanted:
                controls.status.show(wanted)

    def _hook_crashes(self) -> None:
        """Reload at once when WebKit's web process dies (the watch would, a little later)."""
        try:
            from gi.repository import GLib
            from webview.platforms.gtk import BrowserView

            view = BrowserView.instances[self.window.uid].webview
            view.connect("web-process-terminated", lambda *_: GLib.idle_add(self.reload))
        except Exception:
            log.info("no web-process-terminated signal here; the watch alone reloads")

    def close(self) -> None:
        self._stop.set()
        self.window.destroy()

    def run(self) -> None:
        import webview

        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: threading.Thread(target=self.close).start())
        webview.start(
            lambda: threading.Thread(target=self._watch, daemon=True).start(),
            gui="gtk",
            private_mode=True,  # no cookies, cache or history kept between runs
        )


def greeting_urls(settings, top: int = 2) -> list[str]:
    """The spoken welcome in the languages used most at this kiosk this week."""
    from pathlib import Path

    from kiosk.device.install import ReleaseStore
    from kiosk.device.stats import totals

    data = Path(settings.data_dir)
    store = ReleaseStore(data)
    try:
        catalog = json.loads((store.active() / "catalog.json").read_text(encoding="utf-8"))
    except Exception:
        return []
    langs = []
    if (data / "usage.db").exists():
        langs = [lang for lang, _ in totals(data / "usage.db", 7, 1)["languages"].most_common()]
    langs = list(dict.fromkeys([*langs, catalog["reference"]]))[:top]
    version = store.current_version
    return [
        f"/media/{version}/{catalog['ui_audio'][lang]['welcome']}"
        for lang in dict.fromkeys(langs)
        if "welcome" in catalog["ui_audio"].get(lang, {})
    ]


def display(url: str, settings=None, on_ready=None) -> Display:
    """Open the window (blocks until it closes); buttons and lights are wired when present."""
    controls = None
    window = Display(url, on_ready=on_ready, settings=settings)
    if settings is not None:
        try:
            from kiosk.device.controls import Controls

            def greet() -> None:
                window.run_js(
                    f"window.kiosk && window.kiosk.greet({json.dumps(greeting_urls(settings))})"
                )

            controls = Controls(settings, window.run_js, greet=greet)
            window.controls = controls
        except Exception as exc:
            log.warning("no buttons or lights (the screen still works): %s", exc)
    try:
        window.run()
    finally:
        if controls is not None:
            controls.close()
    return window

"""Live speech on the device, for words no release recorded (a greeting, a missing prompt).

pyttsx3 2.99 is not thread-safe, and its save_to_file can return before the file exists and
then write one text's audio under the next file's name. So one worker thread owns the engine,
takes one request at a time from a queue, and (when writing a file) waits until that file is
complete before it takes the next. ``stop()`` empties the queue and silences the engine, as
the idle reset does when a visitor walks away.
"""

from __future__ import annotations

import os
import queue
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class _Request:
    text: str
    voice: str
    volume: float
    path: Path | None = None
    done: threading.Event = field(default_factory=threading.Event)


class LiveVoice:
    def __init__(self, rate: int = 150) -> None:
        self.rate = rate
        self._queue: queue.Queue[_Request | None] = queue.Queue()
        self._engine = None
        self._thread = threading.Thread(target=self._work, name="live-voice", daemon=True)
        self._thread.start()

    def say(self, text: str, voice: str, volume: float = 1.0) -> threading.Event:
        """Speak aloud, after whatever was asked before; returns an event set when done."""
        request = _Request(text, voice, volume)
        self._queue.put(request)
        return request.done

    def save(self, text: str, voice: str, path: str | os.PathLike[str]) -> Path:
        """Speak into a WAV file and return once the file is complete."""
        request = _Request(text, voice, 1.0, Path(path))
        self._queue.put(request)
        request.done.wait(timeout=120)
        return Path(path)

    def stop(self) -> None:
        """Drop everything waiting and silence what is being said."""
        while True:
            try:
                pending = self._queue.get_nowait()
            except queue.Empty:
                break
            if pending is not None:
                pending.done.set()
        if self._engine is not None:
            self._engine.stop()

    def close(self) -> None:
        self.stop()
        self._queue.put(None)
        self._thread.join(timeout=10)

    def _work(self) -> None:
        import pyttsx3

        self._engine = pyttsx3.init("espeak")
        self._engine.setProperty("rate", self.rate)
        while True:
            request = self._queue.get()
            if request is None:
                return
            try:
                self._engine.setProperty("voice", request.voice)
                self._engine.setProperty("volume", request.volume)
                if request.path is None:
                    self._engine.say(request.text)
                    self._engine.runAndWait()
                else:
                    request.path.unlink(missing_ok=True)
                    self._engine.save_to_file(request.text, str(request.path))
                    self._engine.runAndWait()
                    _wait_until_complete(request.path)
            finally:
                request.done.set()


def _wait_until_complete(path: Path, timeout: float = 60) -> None:
    """pyttsx3 may return first: wait until the file exists and stops growing."""
    deadline = time.monotonic() + timeout
    last = -1
    while time.monotonic() < deadline:
        size = path.stat().st_size if path.exists() else -1
        if size > 44 and size == last:
            return
        last = size
        time.sleep(0.1)

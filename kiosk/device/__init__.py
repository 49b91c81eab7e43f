"""The Raspberry Pi itself: health readings (and later the window, buttons and hotspot)."""

"""What both the kiosk and headquarters read and write: one module per format, one reader and
one writer each, side by side."""

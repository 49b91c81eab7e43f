"""First Mile kiosk: safer-migration guides on a Raspberry Pi, offline and in many languages."""

__version__ = "0.1.0"

"""Posters with a QR code, and hand-out cards, for every village of a commune."""

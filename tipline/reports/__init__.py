"""Dashboards, exports, indicators and the annual review report; they read tips and counts."""

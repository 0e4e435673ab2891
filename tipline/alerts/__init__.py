"""Alerts: one outbox of notifications, many channels (in-app, e-mail, Web Push, SMS).

The workflow writes a notification in the same transaction as the change it reports; the
worker (`flask tipline worker`) fans it out into per-channel deliveries and sends them.
An alert says which tip and why, never what the tip says (DOMAIN.md, Privacy).
"""

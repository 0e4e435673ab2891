"""Shared foundations: the declarative base, labelled enums, errors, time and privacy helpers."""

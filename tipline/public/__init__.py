"""Resident pages: submit a tip, read the receipt, follow it up. No login, no trace."""

"""Staff pages: login, the triage inbox, a tip's page and the actions on it."""

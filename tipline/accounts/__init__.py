"""Staff accounts, the roles they hold in units, and logging in."""

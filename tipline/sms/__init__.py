"""Tips by SMS: gateways registered to a unit, their webhook, the short conversation."""

"""Photos of tips: probing, cleaning and storing them (no tip logic here)."""

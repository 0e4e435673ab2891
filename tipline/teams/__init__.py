"""The teams registry: the programme's committees and teams, with leaders and members."""

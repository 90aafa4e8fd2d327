"""Game-days: a plan of drills run in order (or fanned out) by statemachines/gameday.asl.json, and one report."""

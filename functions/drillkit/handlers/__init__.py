"""Thin Lambda entry points: one ``observability.drill_step`` decorator (configuration checked at cold start,
correlation id, trace, one log line per step) and one call into drillkit.drill."""

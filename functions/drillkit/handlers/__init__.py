"""Thin Lambda entry points: configuration checked at import (cold start), one call into drillkit.drill."""

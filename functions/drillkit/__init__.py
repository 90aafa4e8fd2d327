"""drillkit: disaster-recovery drills for multi-region AWS stacks."""

__version__ = "0.1.0"

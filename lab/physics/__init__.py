"""The simulated stack's moving parts: apps, health checkers, DNS, ground truth."""

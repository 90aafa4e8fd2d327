"""drillkit_lab: a local stand-in for AWS (moto) plus a simulated two-region stack."""

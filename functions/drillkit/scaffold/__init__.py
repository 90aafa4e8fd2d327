"""`drillkit init`: discover a failover stack and write a scenario for it."""

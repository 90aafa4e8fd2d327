"""Report artifacts and the evidence bucket."""

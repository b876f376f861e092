"""A day's work: collecting the photos, drawing the look-alikes, the day's tables and audit."""

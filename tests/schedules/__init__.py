"""Schedules: the clock (pure), the scheduler duty against the database, the API."""

"""Executors claim queued jobs and run them. ``local`` runs them on this host."""

"""Scheduled work: vest pending points whose return window closed, expire old points."""

"""Consistency: the same text tagged differently across the project, with one-click fixes."""

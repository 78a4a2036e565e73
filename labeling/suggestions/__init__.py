"""Suggestions: a model's spans offered on the tagging page, accepted or rejected one by one or all at once."""

"""nerlab's engine: plain Python, never imports Django.

Formats, span rules, offsets, splits, training, prediction and metrics live here once; the Django apps,
the API, bulk import and the training task all call this package.
"""

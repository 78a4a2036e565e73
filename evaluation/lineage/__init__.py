"""Lineage: which documents a snapshot froze, how they changed since, and which models learnt from a document."""

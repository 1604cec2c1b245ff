"""Generalization labels, order profiles, phases and the loss gap (issue 4)."""

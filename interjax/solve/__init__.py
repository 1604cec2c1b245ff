"""Sparse AND-OR extraction (METHOD.md §3). Lands with issue 3."""

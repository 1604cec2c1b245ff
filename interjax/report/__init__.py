"""Host-side reporting: plots, tables and files (issue 4)."""

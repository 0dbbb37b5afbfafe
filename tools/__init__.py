"""Build tools of the kscli repository (not installed with the package)."""

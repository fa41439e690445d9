"""Reports: one summary computed from the store, rendered for the terminal or as JSON."""

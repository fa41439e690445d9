"""Privacy by design: pseudonyms now; scanning, the guard and opt-out build on it."""

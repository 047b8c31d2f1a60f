"""The pure, sans-IO protocol core.  Imports only the standard library's pure modules."""

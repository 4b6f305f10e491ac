"""The web UI's page handlers, one module per part of the marketplace."""

"""The local network: finding people nearby without configuration."""

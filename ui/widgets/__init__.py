"""Small painting widgets: identicons, level meters, status dots."""

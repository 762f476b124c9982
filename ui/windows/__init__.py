"""Windows, dialogs and pages: they render view-models and forward clicks."""

"""The WZP desktop app (PySide6 widgets on a qasync loop); only `app.client.WzpClient` talks to the network."""

from ui.qt_compat import protect_singletons

protect_singletons()

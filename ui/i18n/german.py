"""The German translation, as source text -> translation; `python -m ui.i18n.build` writes it into
wzp_de.ts (refreshed from the sources by pyside6-lupdate) and compiles wzp_de.qm with pyside6-lrelease."""

GERMAN: dict[str, str] = {
    # -- block
    "Block — WZP": "Blockieren — WZP",
    "Block {name}?": "{name} blockieren?",
    "Block": "Blockieren",
    "Block…": "Blockieren…",
    "Unblock": "Blockierung aufheben",
    "Decline and block": "Ablehnen und blockieren",
    "Decline this call, and never ring for calls from this person again.":
        "Diesen Anruf ablehnen und bei Anrufen dieser Person nie mehr klingeln.",
    # -- call states and messages
    "Calling…": "Wird angerufen…",
    "Ringing…": "Es klingelt…",
    "Incoming call…": "Eingehender Anruf…",
    "Connecting…": "Verbindung wird aufgebaut…",
    "In call": "Im Gespräch",
    "You are already in a call. Hang up first.": "Sie telefonieren bereits. Legen Sie zuerst auf.",
    "No relay is set up. Open Settings to choose or host one.":
        "Kein Relay eingerichtet. Wählen oder betreiben Sie eines in den Einstellungen.",
    "Could not switch the microphone: {error}": "Das Mikrofon konnte nicht gewechselt werden: {error}",
    "Could not switch the speaker: {error}": "Der Lautsprecher konnte nicht gewechselt werden: {error}",
    "Now using {device}.": "Jetzt wird {device} verwendet.",
    "Now using the default device.": "Jetzt wird das Standardgerät verwendet.",
    "Incoming call": "Eingehender Anruf",
    "{name} is also calling you.": "{name} ruft Sie ebenfalls an.",
    "Missed call": "Verpasster Anruf",
    "{name} is calling you.": "{name} ruft Sie an.",
    # -- call page
    "Details": "Details",
    "Hide details": "Details ausblenden",
    "Show the connection's numbers: round trip, loss, jitter, bitrate.":
        "Die Werte der Verbindung zeigen: Umlaufzeit, Verlust, Jitter, Bitrate.",
    "Safety code": "Sicherheitscode",
    "Both of you see the same code if nobody is in between. Compare it aloud.":
        "Sie beide sehen denselben Code, wenn niemand dazwischen ist. Vergleichen Sie ihn laut.",
    "Verify…": "Überprüfen…",
    "Compare the safety code with the other person, then mark them verified.":
        "Vergleichen Sie den Sicherheitscode mit der anderen Person und markieren Sie sie dann als überprüft.",
    "✓ Verified": "✓ Überprüft",
    "You compared the safety code with this person and it matched.":
        "Sie haben den Sicherheitscode mit dieser Person verglichen, und er stimmte überein.",
    "Mute (M)": "Stumm (M)",
    "Unmute (M)": "Ton an (M)",
    "Speaker volume for this call": "Lautstärke für dieses Gespräch",
    "Audio": "Audio",
    "Microphone": "Mikrofon",
    "Speaker": "Lautsprecher",
    "Volume": "Lautstärke",
    "Connection": "Verbindung",
    "Round trip": "Umlaufzeit",
    "Packet loss": "Paketverlust",
    "Jitter": "Jitter",
    "Jitter buffer": "Jitter-Puffer",
    "Bitrate sent": "Gesendete Bitrate",
    "Cancel": "Abbrechen",
    "Hang up (Esc)": "Auflegen (Esc)",
    "Audio is turned off.": "Audio ist ausgeschaltet.",
    "Verify — WZP": "Überprüfen — WZP",
    "Compare this code with {name}:": "Vergleichen Sie diesen Code mit {name}:",
    "Read it aloud, or listen to them read theirs. Mark them verified only if every digit is the same: "
    "then this is their real key and nobody is in between.":
        "Lesen Sie ihn vor oder hören Sie zu, wie die andere Person ihren vorliest. Markieren Sie sie nur dann "
        "als überprüft, wenn jede Ziffer gleich ist: Dann ist es ihr echter Schlüssel, und niemand ist dazwischen.",
    "The codes match": "Die Codes stimmen überein",
    "Not now": "Nicht jetzt",
    # -- home page
    "today {time}": "heute {time}",
    "yesterday {time}": "gestern {time}",
    "Paste a fingerprint or a wzp: invite link to call":
        "Fingerabdruck oder wzp:-Einladungslink zum Anrufen einfügen",
    "Call": "Anrufen",
    "Add to contacts": "Zu Kontakten hinzufügen",
    "Name": "Name",
    "Allow direct calls": "Direkte Anrufe erlauben",
    "Calls with this contact may go directly between your computers, which shows them your IP address. "
    "This is separate from Verified (comparing the safety code during a call).":
        "Anrufe mit diesem Kontakt dürfen direkt zwischen Ihren Computern laufen, wodurch er Ihre IP-Adresse "
        "sieht. Das ist unabhängig von „Überprüft“ (dem Vergleich des Sicherheitscodes während eines Anrufs).",
    "Save name": "Name speichern",
    "Remove": "Entfernen",
    "No contacts yet. Call someone or pick a person who is online, then add them.":
        "Noch keine Kontakte. Rufen Sie jemanden an oder wählen Sie eine Person, die online ist, und fügen Sie "
        "sie hinzu.",
    "Nobody else is online on this relay right now.": "Gerade ist niemand sonst auf diesem Relay online.",
    "Call back": "Zurückrufen",
    "Clear history": "Verlauf löschen",
    "Contacts": "Kontakte",
    "Online now": "Jetzt online",
    "Online now ({count})": "Jetzt online ({count})",
    "{name}'s relay could not be reached. Check your network, or ask them for a new invite link.":
        "Das Relay von {name} war nicht erreichbar. Prüfen Sie Ihr Netzwerk oder bitten Sie "
        "um einen neuen Einladungslink.",
    "relay unreachable": "Relay nicht erreichbar",
    # -- audio processing
    "Echo cancellation (not needed with a headset; harmless)":
        "Echounterdrückung (mit Headset nicht nötig, schadet aber nicht)",
    "Noise suppression": "Rauschunterdrückung",
    "Automatic gain control": "Automatische Lautstärkeregelung",
    # -- reaching people (invite links, Nearby)
    "in your contacts": "in Ihren Kontakten",
    "nearby, on this network": "in der Nähe, in diesem Netzwerk",
    "Copy invite link": "Einladungslink kopieren",
    "Copy a wzp: link that says who you are and where to reach you, for people who will call you":
        "Einen wzp:-Link kopieren, der sagt, wer Sie sind und wo man Sie erreicht, für Leute, die Sie anrufen sollen",
    "QR code": "QR-Code",
    "Show your invite link as a QR code": "Ihren Einladungslink als QR-Code zeigen",
    "Your invite link": "Ihr Einladungslink",
    "QR code of your invite link": "QR-Code Ihres Einladungslinks",
    "e.g. relay.example.org or 192.168.1.20:4433": "z. B. relay.example.org oder 192.168.1.20:4433",
    "Hosting a relay on this computer (no network address others can reach)":
        "Relay auf diesem Computer (keine Netzwerkadresse, die andere erreichen)",
    "Hosting a relay on this computer, reached by others at {addresses}":
        "Relay auf diesem Computer, für andere erreichbar unter {addresses}",
    "History": "Verlauf",
    "History ({count} missed)": "Verlauf ({count} verpasst)",
    "{count} missed calls you have not seen": "{count} verpasste Anrufe, die Sie noch nicht gesehen haben",
    "Direct calls show this contact your IP address.": "Direkte Anrufe zeigen diesem Kontakt Ihre IP-Adresse.",
    "Mark as not verified": "Als nicht überprüft markieren",
    # -- identity card
    "Your fingerprint: give it to people so they can call you.":
        "Ihr Fingerabdruck: Geben Sie ihn anderen, damit sie Sie anrufen können.",
    "Copy": "Kopieren",
    "Copy your fingerprint to the clipboard": "Ihren Fingerabdruck in die Zwischenablage kopieren",
    "Copied": "Kopiert",
    # -- incoming dialog
    "Incoming call — WZP": "Eingehender Anruf — WZP",
    "is calling you": "ruft Sie an",
    "Accept": "Annehmen",
    "Accept privately": "Privat annehmen",
    "The call goes through the relay: your IP address stays hidden from the caller.":
        "Der Anruf läuft über das Relay: Ihre IP-Adresse bleibt vor dem Anrufer verborgen.",
    "The call may go directly between your computers, which shows them your IP.":
        "Der Anruf darf direkt zwischen Ihren Computern laufen, wodurch der Anrufer Ihre IP sieht.",
    "Decline": "Ablehnen",
    "In your contacts · not verified": "In Ihren Kontakten · nicht überprüft",
    "Not in your contacts · the name is their own choice":
        "Nicht in Ihren Kontakten · den Namen wählte die Person selbst",
    "Direct calls allowed: the call may go straight between your computers.":
        "Direkte Anrufe erlaubt: Der Anruf darf direkt zwischen Ihren Computern laufen.",
    "Through the relay: your IP address stays hidden (your privacy setting).":
        "Über das Relay: Ihre IP-Adresse bleibt verborgen (Ihre Datenschutzeinstellung).",
    "Accept privately hides your IP address. Accept may go direct, which shows it to them.":
        "„Privat annehmen“ verbirgt Ihre IP-Adresse. „Annehmen“ darf direkt verbinden und zeigt sie.",
    # -- main window
    "WZP": "WZP",
    "Settings": "Einstellungen",
    "About": "Über",
    "&WZP": "&WZP",
    "&New call": "&Neuer Anruf",
    "&Settings…": "&Einstellungen…",
    "&Quit WZP": "WZP &beenden",
    "&Help": "&Hilfe",
    "&About WZP": "&Über WZP",
    "You are in a call. Hang up first.": "Sie telefonieren gerade. Legen Sie zuerst auf.",
    "<b>WZP Desktop {version}</b><br>End-to-end encrypted voice calls, peer to peer over QUIC when possible, "
    "via a relay when not.":
        "<b>WZP Desktop {version}</b><br>Ende-zu-Ende-verschlüsselte Sprachanrufe, direkt über QUIC, wenn "
        "möglich, sonst über ein Relay.",
    "About WZP": "Über WZP",
    # -- quality
    "excellent": "ausgezeichnet",
    "good": "gut",
    "fair": "mittel",
    "poor": "schlecht",
    "very poor": "sehr schlecht",
    "Poor connection: long delay, you may talk over each other.":
        "Schlechte Verbindung: lange Verzögerung, Sie reden vielleicht durcheinander.",
    "Poor connection: audio is getting lost, you may hear gaps.":
        "Schlechte Verbindung: Audio geht verloren, Sie hören vielleicht Lücken.",
    "Poor connection: the network is uneven, you may hear gaps.":
        "Schlechte Verbindung: Das Netz ist unruhig, Sie hören vielleicht Lücken.",
    "Poor connection.": "Schlechte Verbindung.",
    "Connection quality": "Verbindungsqualität",
    "Connection: {quality} ({bars} of {max} bars)": "Verbindung: {quality} ({bars} von {max} Balken)",
    "Connection: not measured yet": "Verbindung: noch nicht gemessen",
    # -- relay line
    "Round-trip time to the relay": "Umlaufzeit zum Relay",
    "No relay chosen. Open Settings to add one or host one on this computer.":
        "Kein Relay gewählt. Fügen Sie in den Einstellungen eines hinzu oder betreiben Sie eines auf diesem "
        "Computer.",
    "Connecting to the relay {relay}…": "Verbindung zum Relay {relay}…",
    "Connected to the relay {relay}": "Verbunden mit dem Relay {relay}",
    "Relay {relay} unreachable. Reconnecting in {secs} s…":
        "Relay {relay} nicht erreichbar. Neuer Versuch in {secs} s…",
    "Relay {relay} unreachable. Reconnecting now…": "Relay {relay} nicht erreichbar. Neuer Versuch läuft…",
    "The relay {relay} presented a different key. Not connected.":
        "Das Relay {relay} hat einen anderen Schlüssel vorgelegt. Nicht verbunden.",
    "You signed in from another place, so the relay closed this connection.":
        "Sie haben sich an einem anderen Ort angemeldet, daher hat das Relay diese Verbindung geschlossen.",
    "Offline": "Offline",
    "Reconnect now": "Jetzt neu verbinden",
    "Reconnect here": "Hier neu verbinden",
    "Review the new key…": "Neuen Schlüssel prüfen…",
    "Relay key changed": "Relay-Schlüssel geändert",
    "First connection to this relay: its key {key} is remembered from now on.":
        "Erste Verbindung zu diesem Relay: Sein Schlüssel {key} wird ab jetzt gemerkt.",
    "The relay's key {key} is the one remembered from the first connection.":
        "Der Schlüssel {key} des Relays ist der seit der ersten Verbindung gemerkte.",
    "The relay presented a different key ({key}).": "Das Relay hat einen anderen Schlüssel vorgelegt ({key}).",
    "The relay's key is {key}.": "Der Schlüssel des Relays ist {key}.",
    # -- sentences
    "Via relay": "Über Relay",
    "Direct": "Direkt",
    "Direct IPv6": "Direkt IPv6",
    "Direct over LAN": "Direkt im LAN",
    "Direct over internet": "Direkt über Internet",
    "The audio goes through the relay, still end-to-end encrypted: the relay cannot listen.":
        "Das Audio läuft über das Relay, weiterhin Ende-zu-Ende-verschlüsselt: Das Relay kann nicht mithören.",
    "The audio goes straight to the other computer over IPv6.":
        "Das Audio geht über IPv6 direkt zum anderen Computer.",
    "The audio goes straight to the other computer on your local network.":
        "Das Audio geht in Ihrem lokalen Netz direkt zum anderen Computer.",
    "The audio goes straight to the other computer across the internet.":
        "Das Audio geht über das Internet direkt zum anderen Computer.",
    "The audio goes straight to the other computer.": "Das Audio geht direkt zum anderen Computer.",
    "The call with {name} dropped after {duration}: the connection was lost.":
        "Das Gespräch mit {name} brach nach {duration} ab: Die Verbindung ging verloren.",
    "Call with {name} ended after {duration}.": "Gespräch mit {name} nach {duration} beendet.",
    "{name} is offline. Try again when they have WZP open.":
        "{name} ist offline. Versuchen Sie es wieder, wenn WZP dort geöffnet ist.",
    "{name} is busy in another call. Try again later.":
        "{name} ist in einem anderen Gespräch. Versuchen Sie es später wieder.",
    "{name} declined the call.": "{name} hat den Anruf abgelehnt.",
    "{name} did not answer.": "{name} hat nicht geantwortet.",
    "You cancelled the call to {name}.": "Sie haben den Anruf an {name} abgebrochen.",
    "{name} cannot be called right now.": "{name} kann gerade nicht angerufen werden.",
    "The relay is handling too many calls right now. Try again in a moment.":
        "Das Relay hat gerade zu viele Anrufe. Versuchen Sie es gleich noch einmal.",
    "This identity signed in from another place, so this call was stopped.":
        "Diese Identität hat sich an einem anderen Ort angemeldet, daher wurde der Anruf beendet.",
    "The call to {name} could not be connected. The log in Settings has the details.":
        "Der Anruf an {name} kam nicht zustande. Details stehen im Protokoll in den Einstellungen.",
    "{name} hung up before the call connected.": "{name} hat aufgelegt, bevor die Verbindung stand.",
    "The call to {name} ended ({reason}).": "Der Anruf an {name} endete ({reason}).",
    "You declined the call from {name}.": "Sie haben den Anruf von {name} abgelehnt.",
    "The call from {name} could not be connected. The log in Settings has the details.":
        "Der Anruf von {name} kam nicht zustande. Details stehen im Protokoll in den Einstellungen.",
    "Missed call from {name}.": "Verpasster Anruf von {name}.",
    "You declined the call from {name} and blocked them: their calls will no longer ring. Unblock in Settings.":
        "Sie haben den Anruf von {name} abgelehnt und die Person blockiert: Ihre Anrufe klingeln nicht mehr. "
        "Aufheben können Sie das in den Einstellungen.",
    "Outgoing": "Ausgehend",
    "Incoming": "Eingehend",
    "Missed": "Verpasst",
    "Declined": "Abgelehnt",
    "offline": "offline",
    "busy": "besetzt",
    "declined": "abgelehnt",
    "no answer": "keine Antwort",
    "cancelled": "abgebrochen",
    "failed": "fehlgeschlagen",
    "unavailable": "nicht erreichbar",
    # -- tray
    "Show WZP": "WZP anzeigen",
    "Mute": "Stumm",
    "Hang up": "Auflegen",
    "Settings…": "Einstellungen…",
    "Quit WZP": "WZP beenden",
    "1 missed call": "1 verpasster Anruf",
    "{count} missed calls": "{count} verpasste Anrufe",
    # -- welcome
    "Welcome to WZP": "Willkommen bei WZP",
    "Your identity was created on this computer. People call you with your fingerprint; send it to them however "
    "you like, and check it together on your first call. Calls are end-to-end encrypted.":
        "Ihre Identität wurde auf diesem Computer erstellt. Andere rufen Sie über Ihren Fingerabdruck an; "
        "schicken Sie ihn auf beliebigem Weg und prüfen Sie ihn gemeinsam beim ersten Anruf. Anrufe sind "
        "Ende-zu-Ende-verschlüsselt.",
    "Host a relay on this computer (simplest to get started)":
        "Ein Relay auf diesem Computer betreiben (der einfachste Anfang)",
    "Use a relay:": "Ein Relay verwenden:",
    "host:port, e.g. 192.168.1.20:4433": "Host:Port, z. B. 192.168.1.20:4433",
    "WZP needs a relay to find the people you call (the audio goes directly when it can).":
        "WZP braucht ein Relay, um die Angerufenen zu finden (das Audio läuft direkt, wenn es geht).",
    "Start": "Starten",
    # -- settings (the Audio tab is not translated yet)
    "Ask each time (Accept shows them your IP address, Accept privately does not)":
        "Jedes Mal fragen („Annehmen“ zeigt Ihre IP-Adresse, „Privat annehmen“ nicht)",
    "Always keep my IP address private (calls go through the relay)":
        "Meine IP-Adresse immer verbergen (Anrufe laufen über das Relay)",
    "Cone NAT (or no NAT)": "Cone-NAT (oder kein NAT)",
    "Symmetric NAT": "Symmetrisches NAT",
    "Several public addresses": "Mehrere öffentliche Adressen",
    "Unknown": "Unbekannt",
    "Probes:": "Messungen:",
    "{server}: failed — {error}": "{server}: fehlgeschlagen — {error}",
    "{server}: saw us as {address}": "{server}: sah uns als {address}",
    "Notes:": "Hinweise:",
    "Settings — WZP": "Einstellungen — WZP",
    "General": "Allgemein",
    "Relays": "Relays",
    "Network": "Netzwerk",
    "Blocked": "Blockiert",
    "Log": "Protokoll",
    "Your name": "Ihr Name",
    "Shown to people you call and to others on the relay. Leave empty to use your generated name.":
        "Wird Angerufenen und anderen auf dem Relay gezeigt. Leer lassen für Ihren erzeugten Namen.",
    "Callers without\ndirect calls allowed": "Anrufer ohne erlaubte\ndirekte Anrufe",
    "Show me in the relay's “Online now” list": "Mich in der Liste „Jetzt online“ des Relays zeigen",
    "When this is off, people on the relay do not see you online; those who have your fingerprint "
    "can still call you.":
        "Ist das aus, sehen andere auf dem Relay Sie nicht online; wer Ihren Fingerabdruck hat, kann Sie "
        "trotzdem anrufen.",
    "Visibility": "Sichtbarkeit",
    "Start WZP when I log in (in the tray)": "WZP bei der Anmeldung starten (im Infobereich)",
    "Host a relay on this computer and use it": "Ein Relay auf diesem Computer betreiben und verwenden",
    "Add": "Hinzufügen",
    "Use this relay": "Dieses Relay verwenden",
    "Relays you use:": "Ihre Relays:",
    "Checks how your router maps connections, from what two relay addresses see. "
    "Cone NAT: direct calls usually work. Symmetric NAT: calls usually go through the relay.":
        "Prüft, wie Ihr Router Verbindungen umsetzt, anhand dessen, was zwei Relay-Adressen sehen. "
        "Cone-NAT: Direkte Anrufe klappen meist. Symmetrisches NAT: Anrufe laufen meist über das Relay.",
    "Detect NAT type": "NAT-Typ erkennen",
    "Not checked yet.": "Noch nicht geprüft.",
    "Connect to a relay first.": "Verbinden Sie sich zuerst mit einem Relay.",
    "Probing…": "Wird gemessen…",
    "The check could not run: {error}": "Die Prüfung konnte nicht laufen: {error}",
    "Calls from these people are declined without ringing; they only see that you declined. "
    "Unblocking takes effect at once.":
        "Anrufe dieser Personen werden ohne Klingeln abgelehnt; sie sehen nur, dass Sie abgelehnt haben. "
        "Das Aufheben wirkt sofort.",
    "Nobody is blocked. To block someone, right-click them in your contacts, the online list or "
    "the history, or press Block… when they call.":
        "Niemand ist blockiert. Um jemanden zu blockieren, klicken Sie ihn in den Kontakten, der Online-Liste "
        "oder dem Verlauf mit der rechten Maustaste an, oder drücken Sie „Blockieren…“, wenn er anruft.",
    # -- blocking, contacts, the relay's key
    "Calls from {name} will be declined without ringing. You can unblock them in Settings.":
        "Anrufe von {name} werden ohne Klingeln abgelehnt. Sie können das in den Einstellungen aufheben.",
    "Not blocked: {error}.": "Nicht blockiert: {error}.",
    "Blocked {name}. Their calls will be declined without ringing.":
        "{name} blockiert. Anrufe dieser Person werden ohne Klingeln abgelehnt.",
    "Not unblocked: {error}.": "Blockierung nicht aufgehoben: {error}.",
    "Unblocked {name}. Their calls ring again.": "Blockierung von {name} aufgehoben. Die Anrufe klingeln wieder.",
    "Not saved: {error}.": "Nicht gespeichert: {error}.",
    "no network address found": "keine Netzwerkadresse gefunden",
    "This computer's relay is running. Others can use it at {addresses}. Its key fingerprint is {key}.":
        "Das Relay dieses Computers läuft. Andere erreichen es unter {addresses}. Sein Schlüssel-Fingerabdruck "
        "ist {key}.",
    "The relay's key changed — WZP": "Der Schlüssel des Relays hat sich geändert — WZP",
    "The relay {relay} presented a different key than last time.":
        "Das Relay {relay} hat einen anderen Schlüssel vorgelegt als beim letzten Mal.",
    "Someone may be intercepting your connection. Only trust the new key if the relay's owner "
    "told you they changed it, and the fingerprints below match what they told you.":
        "Jemand könnte Ihre Verbindung abfangen. Vertrauen Sie dem neuen Schlüssel nur, wenn der Betreiber des "
        "Relays Ihnen die Änderung mitgeteilt hat und die Fingerabdrücke unten mit seinen Angaben übereinstimmen.",
    "Key you trusted before:\n{pinned}\n\nKey presented now:\n{presented}":
        "Bisher vertrauter Schlüssel:\n{pinned}\n\nJetzt vorgelegter Schlüssel:\n{presented}",
    "Trust the new key": "Dem neuen Schlüssel vertrauen",
    "Don't connect": "Nicht verbinden",
    "Not connected: the relay's key does not match. Ask the relay's owner, or choose another relay "
    "in Settings.":
        "Nicht verbunden: Der Schlüssel des Relays stimmt nicht. Fragen Sie den Betreiber oder wählen Sie in den "
        "Einstellungen ein anderes Relay.",
    # -- devices
    "The audio system is not available ({error}).": "Das Audiosystem ist nicht verfügbar ({error}).",
    "System default": "Systemstandard",
    "{device} (not found)": "{device} (nicht gefunden)",
    "The microphone could not be opened: {error}": "Das Mikrofon konnte nicht geöffnet werden: {error}",
    "The speaker could not be opened: {error}": "Der Lautsprecher konnte nicht geöffnet werden: {error}",
    "Clear history — WZP": "Verlauf löschen — WZP",
    "Remove all {count} calls from the history?": "Alle {count} Anrufe aus dem Verlauf entfernen?",
    "Remove the one call in the history?": "Den einen Anruf aus dem Verlauf entfernen?",
    "Your contacts stay. This cannot be undone.": "Ihre Kontakte bleiben. Das lässt sich nicht rückgängig machen.",
    # -- accessible names
    "Identicon": "Identicon",
    "A picture drawn from the fingerprint {fingerprint}": "Ein aus dem Fingerabdruck {fingerprint} gezeichnetes Bild",
    "connected": "verbunden",
    "connecting": "verbindet",
    "reconnecting": "verbindet neu",
    "key changed": "Schlüssel geändert",
    "online": "online",
    "Status: {state}": "Status: {state}",
    "Fingerprint to call": "Anzurufender Fingerabdruck",
    "Contact name": "Kontaktname",
    "People online": "Personen online",
    "Call history": "Anrufverlauf",
    "Microphone level": "Mikrofonpegel",
    "Speaker level": "Lautsprecherpegel",
    "Speaker volume": "Lautsprecher-Lautstärke",
    # -- app
    "WZP is still running": "WZP läuft weiter",
    "Calls can still reach you. Click the tray icon to open WZP; quit from its menu or with Ctrl+Q.":
        "Anrufe erreichen Sie weiterhin. Klicken Sie auf das Symbol im Infobereich, um WZP zu öffnen; beenden "
        "Sie es über dessen Menü oder mit Strg+Q.",
    "End the call? — WZP": "Gespräch beenden? — WZP",
    "You are in a call with {name}.": "Sie telefonieren mit {name}.",
    "Quitting ends the call.": "Beenden legt auf.",
    "Closing the window ends the call.": "Schließen des Fensters legt auf.",
    "Hang up and quit": "Auflegen und beenden",
    "Hang up and close": "Auflegen und schließen",
    "Stay in the call": "Im Gespräch bleiben",
    "The new relay settings apply after this call.": "Die neuen Relay-Einstellungen gelten nach diesem Gespräch.",
    "Settings saved.": "Einstellungen gespeichert.",
    # -- contacts: add, edit, remove with undo, search, menus
    "Clear": "Leeren",
    "Edit contact — WZP": "Kontakt bearbeiten — WZP",
    "Add contact — WZP": "Kontakt hinzufügen — WZP",
    "Fingerprint or invite link": "Fingerabdruck oder Einladungslink",
    "Paste their fingerprint or wzp: invite link": "Fingerabdruck oder wzp:-Einladungslink einfügen",
    "How you call them, e.g. Ada": "Wie Sie die Person nennen, z. B. Ada",
    "Calls with this contact may go directly between your computers, which shows them your IP address.":
        "Anrufe mit diesem Kontakt dürfen direkt zwischen Ihren Computern laufen; dabei sieht er Ihre IP-Adresse.",
    "&Fingerprint or link:": "&Fingerabdruck oder Link:",
    "&Name:": "&Name:",
    "This is not a fingerprint: {error}.": "Das ist kein Fingerabdruck: {error}.",
    "Reached at: {relays}": "Erreichbar über: {relays}",
    "That is your own fingerprint; enter the other person's.":
        "Das ist Ihr eigener Fingerabdruck; geben Sie den der anderen Person ein.",
    "{name} is already in your contacts.": "{name} ist schon in Ihren Kontakten.",
    "Enter a name for this contact.": "Geben Sie einen Namen für diesen Kontakt ein.",
    "Remove from your contacts (you can undo it for a few seconds)":
        "Aus den Kontakten entfernen (einige Sekunden lang rückgängig zu machen)",
    "Add contact…": "Kontakt hinzufügen…",
    "&Add contact…": "Kontakt &hinzufügen…",
    "Add someone by their fingerprint or invite link": "Jemanden per Fingerabdruck oder Einladungslink hinzufügen",
    "Clear history…": "Verlauf löschen…",
    "Search (Ctrl+F)": "Suchen (Strg+F)",
    "Search contacts, people online and history": "Kontakte, Personen online und Verlauf durchsuchen",
    "Filter the lists by name or fingerprint": "Die Listen nach Name oder Fingerabdruck filtern",
    "No contacts yet": "Noch keine Kontakte",
    "Share your invite link so people can call you and add you, see who is on this network under Online now, "
    "or add someone whose fingerprint or invite link you have.":
        "Teilen Sie Ihren Einladungslink, damit andere Sie anrufen und hinzufügen können, sehen Sie unter "
        "„Jetzt online“, wer in diesem Netzwerk ist, oder fügen Sie jemanden hinzu, dessen Fingerabdruck oder "
        "Einladungslink Sie haben.",
    "Copy my invite link": "Meinen Einladungslink kopieren",
    "Who is online or nearby": "Wer online oder in der Nähe ist",
    "verified": "überprüft",
    "not verified": "nicht überprüft",
    "direct calls": "direkte Anrufe",
    "blocked": "blockiert",
    "No contact matches “{query}”.": "Kein Kontakt passt zu „{query}“.",
    "Removed {name} from your contacts.": "{name} wurde aus Ihren Kontakten entfernt.",
    "{name} is back in your contacts.": "{name} ist wieder in Ihren Kontakten.",
    "Added {name} to your contacts.": "{name} wurde zu Ihren Kontakten hinzugefügt.",
    "Saved {name}.": "{name} gespeichert.",
    "Nobody online matches “{query}”.": "Niemand online passt zu „{query}“.",
    "No call matches “{query}”.": "Kein Anruf passt zu „{query}“.",
    "No calls yet.": "Noch keine Anrufe.",
    "Deleted the call with {name} from the history.": "Der Anruf mit {name} wurde aus dem Verlauf gelöscht.",
    "Edit…": "Bearbeiten…",
    "Compare the safety code with them, then mark them verified.":
        "Vergleichen Sie den Sicherheitscode mit der Person und markieren Sie sie dann als überprüft.",
    "Delete": "Löschen",
    "Delete this call from the history": "Diesen Anruf aus dem Verlauf löschen",
    "They see the same code under Verify… on their side, or on the call screen when you talk. "
    "Mark them verified only if every digit is the same.":
        "Die Person sieht denselben Code unter „Überprüfen…“ auf ihrer Seite oder während eines Gesprächs. "
        "Markieren Sie sie nur als überprüft, wenn jede Ziffer gleich ist.",
    "Undo": "Rückgängig",
    "Dismiss": "Schließen",
    "Your invite link is copied. Send it to people who will call you.":
        "Ihr Einladungslink ist kopiert. Senden Sie ihn an Personen, die Sie anrufen sollen.",
    # -- log
    "Save &log…": "&Protokoll speichern…",
    "Save a copy of WZP's log, e.g. for a bug report":
        "Eine Kopie des WZP-Protokolls speichern, z. B. für einen Fehlerbericht",
    "Save…": "Speichern…",
    "Save a copy of the whole log file, e.g. for a bug report":
        "Eine Kopie der ganzen Protokolldatei speichern, z. B. für einen Fehlerbericht",
    "Save log — WZP": "Protokoll speichern — WZP",
    "Text files (*.txt *.log)": "Textdateien (*.txt *.log)",
    "The log could not be saved to {path}: {error}.":
        "Das Protokoll konnte nicht unter {path} gespeichert werden: {error}.",
    "Log saved to {path}.": "Protokoll unter {path} gespeichert.",
    # -- relays: a service of several nodes
    "Relays you use": "Ihre Relays",
    "Relay addresses to add": "Hinzuzufügende Relay-Adressen",
    "e.g. relay.example.org or 192.168.1.20:4433\n"
    "A service with several nodes: one address per line, or separated by commas":
        "z. B. relay.example.org oder 192.168.1.20:4433\nEin Dienst mit mehreren Knoten: eine Adresse pro Zeile oder "
        "durch Kommas getrennt",
    "Add these addresses as one relay (Ctrl+Enter)": "Diese Adressen als ein Relay hinzufügen (Strg+Eingabe)",
    "{relay}   (in use)": "{relay}   (in Verwendung)",
    "One relay service with {count} nodes, tried in this order":
        "Ein Relay-Dienst mit {count} Knoten, in dieser Reihenfolge versucht",
    "“{entry}” (entry {index}): {reason}.": "„{entry}“ (Eintrag {index}): {reason}.",
    "Continue": "Weiter",
    "Enter the relay's host name or address.": "Geben Sie den Hostnamen oder die Adresse des Relays ein.",
}

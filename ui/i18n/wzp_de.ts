<?xml version='1.0' encoding='utf-8'?>
<TS version="2.1" language="de_DE">
<context>
    <name>Access</name>
    <message>
        <source>Clear</source>
        <translation>Leeren</translation>
    </message>
</context>
<context>
    <name>BlockConfirm</name>
    <message>
        <source>Block — WZP</source>
        <translation>Blockieren — WZP</translation>
    </message>
    <message>
        <source>Block {name}?</source>
        <translation>{name} blockieren?</translation>
    </message>
    <message>
        <source>Block</source>
        <translation>Blockieren</translation>
    </message>
</context>
<context>
    <name>BlocksModel</name>
    <message>
        <source>Calls from {name} will be declined without ringing. You can unblock them in Settings.</source>
        <translation>Anrufe von {name} werden ohne Klingeln abgelehnt. Sie können das in den Einstellungen aufheben.</translation>
    </message>
    <message>
        <source>Not blocked: {error}.</source>
        <translation>Nicht blockiert: {error}.</translation>
    </message>
    <message>
        <source>Blocked {name}. Their calls will be declined without ringing.</source>
        <translation>{name} blockiert. Anrufe dieser Person werden ohne Klingeln abgelehnt.</translation>
    </message>
    <message>
        <source>Not unblocked: {error}.</source>
        <translation>Blockierung nicht aufgehoben: {error}.</translation>
    </message>
    <message>
        <source>Unblocked {name}. Their calls ring again.</source>
        <translation>Blockierung von {name} aufgehoben. Die Anrufe klingeln wieder.</translation>
    </message>
</context>
<context>
    <name>CallModel</name>
    <message>
        <source>Calling…</source>
        <extracomment>What the window shows for each state of the client's call state machine (app.call.call_state). Incoming calls that rang while another was ringing: each rings when the one before ends. Whether anyone can see the level meters now (set by the call page); None: always.</extracomment>
        <translation>Wird angerufen…</translation>
    </message>
    <message>
        <source>Ringing…</source>
        <translation>Es klingelt…</translation>
    </message>
    <message>
        <source>Incoming call…</source>
        <translation>Eingehender Anruf…</translation>
    </message>
    <message>
        <source>Connecting…</source>
        <translation>Verbindung wird aufgebaut…</translation>
    </message>
    <message>
        <source>In call</source>
        <translation>Im Gespräch</translation>
    </message>
    <message>
        <source>You are already in a call. Hang up first.</source>
        <extracomment>Where else to look for someone (the relays a contact was reached on, Nearby); set by the app.</extracomment>
        <translation>Sie telefonieren bereits. Legen Sie zuerst auf.</translation>
    </message>
    <message>
        <source>No relay is set up. Open Settings to choose or host one.</source>
        <translation>Kein Relay eingerichtet. Wählen oder betreiben Sie eines in den Einstellungen.</translation>
    </message>
    <message>
        <source>Could not switch the microphone: {error}</source>
        <translation>Das Mikrofon konnte nicht gewechselt werden: {error}</translation>
    </message>
    <message>
        <source>Could not switch the speaker: {error}</source>
        <translation>Der Lautsprecher konnte nicht gewechselt werden: {error}</translation>
    </message>
    <message>
        <source>Now using {device}.</source>
        <translation>Jetzt wird {device} verwendet.</translation>
    </message>
    <message>
        <source>Now using the default device.</source>
        <translation>Jetzt wird das Standardgerät verwendet.</translation>
    </message>
    <message>
        <source>Incoming call</source>
        <translation>Eingehender Anruf</translation>
    </message>
    <message>
        <source>{name} is also calling you.</source>
        <translation>{name} ruft Sie ebenfalls an.</translation>
    </message>
    <message>
        <source>Missed call</source>
        <translation>Verpasster Anruf</translation>
    </message>
</context>
<context>
    <name>CallPage</name>
    <message>
        <source>Details</source>
        <translation>Details</translation>
    </message>
    <message>
        <source>Show the connection's numbers: round trip, loss, jitter, bitrate.</source>
        <translation>Die Werte der Verbindung zeigen: Umlaufzeit, Verlust, Jitter, Bitrate.</translation>
    </message>
    <message>
        <source>Safety code</source>
        <translation>Sicherheitscode</translation>
    </message>
    <message>
        <source>Both of you see the same code if nobody is in between. Compare it aloud.</source>
        <translation>Sie beide sehen denselben Code, wenn niemand dazwischen ist. Vergleichen Sie ihn laut.</translation>
    </message>
    <message>
        <source>Verify…</source>
        <translation>Überprüfen…</translation>
    </message>
    <message>
        <source>Compare the safety code with the other person, then mark them verified.</source>
        <translation>Vergleichen Sie den Sicherheitscode mit der anderen Person und markieren Sie sie dann als überprüft.</translation>
    </message>
    <message>
        <source>✓ Verified</source>
        <translation>✓ Überprüft</translation>
    </message>
    <message>
        <source>You compared the safety code with this person and it matched.</source>
        <translation>Sie haben den Sicherheitscode mit dieser Person verglichen, und er stimmte überein.</translation>
    </message>
    <message>
        <source>Mute (M)</source>
        <translation>Stumm (M)</translation>
    </message>
    <message>
        <source>Speaker volume for this call</source>
        <translation>Lautstärke für dieses Gespräch</translation>
    </message>
    <message>
        <source>Audio</source>
        <translation>Audio</translation>
    </message>
    <message>
        <source>Microphone</source>
        <translation>Mikrofon</translation>
    </message>
    <message>
        <source>Microphone level</source>
        <translation>Mikrofonpegel</translation>
    </message>
    <message>
        <source>Speaker level</source>
        <translation>Lautsprecherpegel</translation>
    </message>
    <message>
        <source>Speaker</source>
        <translation>Lautsprecher</translation>
    </message>
    <message>
        <source>Speaker volume</source>
        <translation>Lautsprecher-Lautstärke</translation>
    </message>
    <message>
        <source>Volume</source>
        <translation>Lautstärke</translation>
    </message>
    <message>
        <source>Connection</source>
        <translation>Verbindung</translation>
    </message>
    <message>
        <source>Round trip</source>
        <translation>Umlaufzeit</translation>
    </message>
    <message>
        <source>Packet loss</source>
        <translation>Paketverlust</translation>
    </message>
    <message>
        <source>Jitter</source>
        <translation>Jitter</translation>
    </message>
    <message>
        <source>Jitter buffer</source>
        <translation>Jitter-Puffer</translation>
    </message>
    <message>
        <source>Bitrate sent</source>
        <translation>Gesendete Bitrate</translation>
    </message>
    <message>
        <source>Cancel</source>
        <translation>Abbrechen</translation>
    </message>
    <message>
        <source>Hang up (Esc)</source>
        <translation>Auflegen (Esc)</translation>
    </message>
    <message>
        <source>Audio is turned off.</source>
        <translation>Audio ist ausgeschaltet.</translation>
    </message>
    <message>
        <source>Unmute (M)</source>
        <translation>Ton an (M)</translation>
    </message>
    <message>
        <source>Read it aloud, or listen to them read theirs. Mark them verified only if every digit is the same: then this is their real key and nobody is in between.</source>
        <translation>Lesen Sie ihn vor oder hören Sie zu, wie die andere Person ihren vorliest. Markieren Sie sie nur dann als überprüft, wenn jede Ziffer gleich ist: Dann ist es ihr echter Schlüssel, und niemand ist dazwischen.</translation>
    </message>
    <message>
        <source>Hide details</source>
        <translation>Details ausblenden</translation>
    </message>
</context>
<context>
    <name>ContactDialog</name>
    <message>
        <source>Edit contact — WZP</source>
        <translation>Kontakt bearbeiten — WZP</translation>
    </message>
    <message>
        <source>Add contact — WZP</source>
        <translation>Kontakt hinzufügen — WZP</translation>
    </message>
    <message>
        <source>Fingerprint or invite link</source>
        <translation>Fingerabdruck oder Einladungslink</translation>
    </message>
    <message>
        <source>Paste their fingerprint or wzp: invite link</source>
        <translation>Fingerabdruck oder wzp:-Einladungslink einfügen</translation>
    </message>
    <message>
        <source>Contact name</source>
        <translation>Kontaktname</translation>
    </message>
    <message>
        <source>How you call them, e.g. Ada</source>
        <translation>Wie Sie die Person nennen, z. B. Ada</translation>
    </message>
    <message>
        <source>Allow direct calls</source>
        <translation>Direkte Anrufe erlauben</translation>
    </message>
    <message>
        <source>Calls with this contact may go directly between your computers, which shows them your IP address.</source>
        <translation>Anrufe mit diesem Kontakt dürfen direkt zwischen Ihren Computern laufen; dabei sieht er Ihre IP-Adresse.</translation>
    </message>
    <message>
        <source>&amp;Fingerprint or link:</source>
        <translation>&amp;Fingerabdruck oder Link:</translation>
    </message>
    <message>
        <source>&amp;Name:</source>
        <translation>&amp;Name:</translation>
    </message>
    <message>
        <source>This is not a fingerprint: {error}.</source>
        <translation>Das ist kein Fingerabdruck: {error}.</translation>
    </message>
    <message>
        <source>Reached at: {relays}</source>
        <translation>Erreichbar über: {relays}</translation>
    </message>
    <message>
        <source>That is your own fingerprint; enter the other person's.</source>
        <translation>Das ist Ihr eigener Fingerabdruck; geben Sie den der anderen Person ein.</translation>
    </message>
    <message>
        <source>{name} is already in your contacts.</source>
        <translation>{name} ist schon in Ihren Kontakten.</translation>
    </message>
    <message>
        <source>Enter a name for this contact.</source>
        <translation>Geben Sie einen Namen für diesen Kontakt ein.</translation>
    </message>
</context>
<context>
    <name>ContactsModel</name>
    <message>
        <source>Not saved: {error}.</source>
        <translation>Nicht gespeichert: {error}.</translation>
    </message>
</context>
<context>
    <name>Devices</name>
    <message>
        <source>The audio system is not available ({error}).</source>
        <translation>Das Audiosystem ist nicht verfügbar ({error}).</translation>
    </message>
    <message>
        <source>System default</source>
        <translation>Systemstandard</translation>
    </message>
    <message>
        <source>{device} (not found)</source>
        <translation>{device} (nicht gefunden)</translation>
    </message>
</context>
<context>
    <name>HomePage</name>
    <message>
        <source>today {time}</source>
        <translation>heute {time}</translation>
    </message>
    <message>
        <source>yesterday {time}</source>
        <translation>gestern {time}</translation>
    </message>
    <message>
        <source>Paste a fingerprint or a wzp: invite link to call</source>
        <translation>Fingerabdruck oder wzp:-Einladungslink zum Anrufen einfügen</translation>
    </message>
    <message>
        <source>Fingerprint to call</source>
        <translation>Anzurufender Fingerabdruck</translation>
    </message>
    <message>
        <source>Call</source>
        <translation>Anrufen</translation>
    </message>
    <message>
        <source>Add to contacts</source>
        <translation>Zu Kontakten hinzufügen</translation>
    </message>
    <message>
        <source>Name</source>
        <translation>Name</translation>
    </message>
    <message>
        <source>Contact name</source>
        <translation>Kontaktname</translation>
    </message>
    <message>
        <source>Allow direct calls</source>
        <translation>Direkte Anrufe erlauben</translation>
    </message>
    <message>
        <source>Calls with this contact may go directly between your computers, which shows them your IP address. This is separate from Verified (comparing the safety code during a call).</source>
        <translation>Anrufe mit diesem Kontakt dürfen direkt zwischen Ihren Computern laufen, wodurch er Ihre IP-Adresse sieht. Das ist unabhängig von „Überprüft“ (dem Vergleich des Sicherheitscodes während eines Anrufs).</translation>
    </message>
    <message>
        <source>Save name</source>
        <translation>Name speichern</translation>
    </message>
    <message>
        <source>Remove</source>
        <translation>Entfernen</translation>
    </message>
    <message>
        <source>Nobody else is online on this relay right now.</source>
        <translation>Gerade ist niemand sonst auf diesem Relay online.</translation>
    </message>
    <message>
        <source>Call back</source>
        <translation>Zurückrufen</translation>
    </message>
    <message>
        <source>Clear history</source>
        <translation>Verlauf löschen</translation>
    </message>
    <message>
        <source>Contacts</source>
        <translation>Kontakte</translation>
    </message>
    <message>
        <source>Remove from your contacts (you can undo it for a few seconds)</source>
        <translation>Aus den Kontakten entfernen (einige Sekunden lang rückgängig zu machen)</translation>
    </message>
    <message>
        <source>Add contact…</source>
        <translation>Kontakt hinzufügen…</translation>
    </message>
    <message>
        <source>Add someone by their fingerprint or invite link</source>
        <translation>Jemanden per Fingerabdruck oder Einladungslink hinzufügen</translation>
    </message>
    <message>
        <source>Clear history…</source>
        <translation>Verlauf löschen…</translation>
    </message>
    <message>
        <source>Online now</source>
        <translation>Jetzt online</translation>
    </message>
    <message>
        <source>History</source>
        <translation>Verlauf</translation>
    </message>
    <message>
        <source>Search (Ctrl+F)</source>
        <translation>Suchen (Strg+F)</translation>
    </message>
    <message>
        <source>Search contacts, people online and history</source>
        <translation>Kontakte, Personen online und Verlauf durchsuchen</translation>
    </message>
    <message>
        <source>Filter the lists by name or fingerprint</source>
        <translation>Die Listen nach Name oder Fingerabdruck filtern</translation>
    </message>
    <message>
        <source>People online</source>
        <translation>Personen online</translation>
    </message>
    <message>
        <source>Call history</source>
        <translation>Anrufverlauf</translation>
    </message>
    <message>
        <source>Clear history — WZP</source>
        <translation>Verlauf löschen — WZP</translation>
    </message>
    <message>
        <source>Remove the one call in the history?</source>
        <translation>Den einen Anruf aus dem Verlauf entfernen?</translation>
    </message>
    <message>
        <source>Remove all {count} calls from the history?</source>
        <translation>Alle {count} Anrufe aus dem Verlauf entfernen?</translation>
    </message>
    <message>
        <source>Your contacts stay. This cannot be undone.</source>
        <translation>Ihre Kontakte bleiben. Das lässt sich nicht rückgängig machen.</translation>
    </message>
    <message>
        <source>History ({count} missed)</source>
        <translation>Verlauf ({count} verpasst)</translation>
    </message>
    <message>
        <source>{count} missed calls you have not seen</source>
        <translation>{count} verpasste Anrufe, die Sie noch nicht gesehen haben</translation>
    </message>
    <message>
        <source>No contacts yet</source>
        <translation>Noch keine Kontakte</translation>
    </message>
    <message>
        <source>Share your invite link so people can call you and add you, see who is on this network under Online now, or add someone whose fingerprint or invite link you have.</source>
        <translation>Teilen Sie Ihren Einladungslink, damit andere Sie anrufen und hinzufügen können, sehen Sie unter „Jetzt online“, wer in diesem Netzwerk ist, oder fügen Sie jemanden hinzu, dessen Fingerabdruck oder Einladungslink Sie haben.</translation>
    </message>
    <message>
        <source>Copy my invite link</source>
        <translation>Meinen Einladungslink kopieren</translation>
    </message>
    <message>
        <source>Who is online or nearby</source>
        <translation>Wer online oder in der Nähe ist</translation>
    </message>
    <message>
        <source>online</source>
        <translation>online</translation>
    </message>
    <message>
        <source>offline</source>
        <translation>offline</translation>
    </message>
    <message>
        <source>verified</source>
        <translation>überprüft</translation>
    </message>
    <message>
        <source>not verified</source>
        <translation>nicht überprüft</translation>
    </message>
    <message>
        <source>direct calls</source>
        <translation>direkte Anrufe</translation>
    </message>
    <message>
        <source>blocked</source>
        <translation>blockiert</translation>
    </message>
    <message>
        <source>No contact matches “{query}”.</source>
        <translation>Kein Kontakt passt zu „{query}“.</translation>
    </message>
    <message>
        <source>Removed {name} from your contacts.</source>
        <translation>{name} wurde aus Ihren Kontakten entfernt.</translation>
    </message>
    <message>
        <source>{name} is back in your contacts.</source>
        <translation>{name} ist wieder in Ihren Kontakten.</translation>
    </message>
    <message>
        <source>Added {name} to your contacts.</source>
        <translation>{name} wurde zu Ihren Kontakten hinzugefügt.</translation>
    </message>
    <message>
        <source>Saved {name}.</source>
        <translation>{name} gespeichert.</translation>
    </message>
    <message>
        <source>nearby, on this network</source>
        <translation>in der Nähe, in diesem Netzwerk</translation>
    </message>
    <message>
        <source>in your contacts</source>
        <translation>in Ihren Kontakten</translation>
    </message>
    <message>
        <source>Nobody online matches “{query}”.</source>
        <translation>Niemand online passt zu „{query}“.</translation>
    </message>
    <message>
        <source>Online now ({count})</source>
        <translation>Jetzt online ({count})</translation>
    </message>
    <message>
        <source>No call matches “{query}”.</source>
        <translation>Kein Anruf passt zu „{query}“.</translation>
    </message>
    <message>
        <source>No calls yet.</source>
        <translation>Noch keine Anrufe.</translation>
    </message>
    <message>
        <source>Deleted the call with {name} from the history.</source>
        <translation>Der Anruf mit {name} wurde aus dem Verlauf gelöscht.</translation>
    </message>
    <message>
        <source>Edit…</source>
        <translation>Bearbeiten…</translation>
    </message>
    <message>
        <source>Verify…</source>
        <translation>Überprüfen…</translation>
    </message>
    <message>
        <source>Compare the safety code with them, then mark them verified.</source>
        <translation>Vergleichen Sie den Sicherheitscode mit der Person und markieren Sie sie dann als überprüft.</translation>
    </message>
    <message>
        <source>Direct calls show this contact your IP address.</source>
        <translation>Direkte Anrufe zeigen diesem Kontakt Ihre IP-Adresse.</translation>
    </message>
    <message>
        <source>Mark as not verified</source>
        <translation>Als nicht überprüft markieren</translation>
    </message>
    <message>
        <source>Unblock</source>
        <translation>Blockierung aufheben</translation>
    </message>
    <message>
        <source>Block…</source>
        <translation>Blockieren…</translation>
    </message>
    <message>
        <source>Delete</source>
        <translation>Löschen</translation>
    </message>
    <message>
        <source>Delete this call from the history</source>
        <translation>Diesen Anruf aus dem Verlauf löschen</translation>
    </message>
    <message>
        <source>They see the same code under Verify… on their side, or on the call screen when you talk. Mark them verified only if every digit is the same.</source>
        <translation>Die Person sieht denselben Code unter „Überprüfen…“ auf ihrer Seite oder während eines Gesprächs. Markieren Sie sie nur als überprüft, wenn jede Ziffer gleich ist.</translation>
    </message>
</context>
<context>
    <name>IdenticonWidget</name>
    <message>
        <source>Identicon</source>
        <translation>Identicon</translation>
    </message>
    <message>
        <source>A picture drawn from the fingerprint {fingerprint}</source>
        <translation>Ein aus dem Fingerabdruck {fingerprint} gezeichnetes Bild</translation>
    </message>
</context>
<context>
    <name>IdentityCard</name>
    <message>
        <source>Your fingerprint: give it to people so they can call you.</source>
        <translation>Ihr Fingerabdruck: Geben Sie ihn anderen, damit sie Sie anrufen können.</translation>
    </message>
    <message>
        <source>Copy</source>
        <translation>Kopieren</translation>
    </message>
    <message>
        <source>Copy your fingerprint to the clipboard</source>
        <translation>Ihren Fingerabdruck in die Zwischenablage kopieren</translation>
    </message>
    <message>
        <source>Copy invite link</source>
        <translation>Einladungslink kopieren</translation>
    </message>
    <message>
        <source>Copy a wzp: link that says who you are and where to reach you, for people who will call you</source>
        <translation>Einen wzp:-Link kopieren, der sagt, wer Sie sind und wo man Sie erreicht, für Leute, die Sie anrufen sollen</translation>
    </message>
    <message>
        <source>QR code</source>
        <translation>QR-Code</translation>
    </message>
    <message>
        <source>Show your invite link as a QR code</source>
        <translation>Ihren Einladungslink als QR-Code zeigen</translation>
    </message>
    <message>
        <source>Copied</source>
        <translation>Kopiert</translation>
    </message>
    <message>
        <source>Your invite link</source>
        <translation>Ihr Einladungslink</translation>
    </message>
</context>
<context>
    <name>IncomingDialog</name>
    <message>
        <source>Incoming call — WZP</source>
        <translation>Eingehender Anruf — WZP</translation>
    </message>
    <message>
        <source>is calling you</source>
        <translation>ruft Sie an</translation>
    </message>
    <message>
        <source>Accept</source>
        <translation>Annehmen</translation>
    </message>
    <message>
        <source>Accept privately</source>
        <translation>Privat annehmen</translation>
    </message>
    <message>
        <source>The call goes through the relay: your IP address stays hidden from the caller.</source>
        <translation>Der Anruf läuft über das Relay: Ihre IP-Adresse bleibt vor dem Anrufer verborgen.</translation>
    </message>
    <message>
        <source>The call may go directly between your computers, which shows them your IP.</source>
        <translation>Der Anruf darf direkt zwischen Ihren Computern laufen, wodurch der Anrufer Ihre IP sieht.</translation>
    </message>
    <message>
        <source>Decline</source>
        <translation>Ablehnen</translation>
    </message>
    <message>
        <source>Block…</source>
        <translation>Blockieren…</translation>
    </message>
    <message>
        <source>Decline this call, and never ring for calls from this person again.</source>
        <translation>Diesen Anruf ablehnen und bei Anrufen dieser Person nie mehr klingeln.</translation>
    </message>
    <message>
        <source>✓ Verified</source>
        <translation>✓ Überprüft</translation>
    </message>
    <message>
        <source>In your contacts · not verified</source>
        <translation>In Ihren Kontakten · nicht überprüft</translation>
    </message>
    <message>
        <source>Not in your contacts · the name is their own choice</source>
        <translation>Nicht in Ihren Kontakten · den Namen wählte die Person selbst</translation>
    </message>
    <message>
        <source>Direct calls allowed: the call may go straight between your computers.</source>
        <translation>Direkte Anrufe erlaubt: Der Anruf darf direkt zwischen Ihren Computern laufen.</translation>
    </message>
    <message>
        <source>Through the relay: your IP address stays hidden (your privacy setting).</source>
        <translation>Über das Relay: Ihre IP-Adresse bleibt verborgen (Ihre Datenschutzeinstellung).</translation>
    </message>
    <message>
        <source>Accept privately hides your IP address. Accept may go direct, which shows it to them.</source>
        <translation>„Privat annehmen“ verbirgt Ihre IP-Adresse. „Annehmen“ darf direkt verbinden und zeigt sie.</translation>
    </message>
    <message>
        <source>Decline and block</source>
        <translation>Ablehnen und blockieren</translation>
    </message>
    <message>
        <source>Block</source>
        <translation>Blockieren</translation>
    </message>
</context>
<context>
    <name>MainWindow</name>
    <message>
        <source>WZP</source>
        <translation>WZP</translation>
    </message>
    <message>
        <source>Settings</source>
        <translation>Einstellungen</translation>
    </message>
    <message>
        <source>About</source>
        <translation>Über</translation>
    </message>
    <message>
        <source>&amp;WZP</source>
        <translation>&amp;WZP</translation>
    </message>
    <message>
        <source>&amp;New call</source>
        <translation>&amp;Neuer Anruf</translation>
    </message>
    <message>
        <source>&amp;Settings…</source>
        <translation>&amp;Einstellungen…</translation>
    </message>
    <message>
        <source>&amp;Quit WZP</source>
        <translation>WZP &amp;beenden</translation>
    </message>
    <message>
        <source>&amp;Add contact…</source>
        <translation>Kontakt &amp;hinzufügen…</translation>
    </message>
    <message>
        <source>&amp;Help</source>
        <translation>&amp;Hilfe</translation>
    </message>
    <message>
        <source>&amp;About WZP</source>
        <translation>&amp;Über WZP</translation>
    </message>
    <message>
        <source>Save &amp;log…</source>
        <translation>&amp;Protokoll speichern…</translation>
    </message>
    <message>
        <source>Save a copy of WZP's log, e.g. for a bug report</source>
        <translation>Eine Kopie des WZP-Protokolls speichern, z. B. für einen Fehlerbericht</translation>
    </message>
    <message>
        <source>You are in a call. Hang up first.</source>
        <translation>Sie telefonieren gerade. Legen Sie zuerst auf.</translation>
    </message>
    <message>
        <source>Your invite link is copied. Send it to people who will call you.</source>
        <translation>Ihr Einladungslink ist kopiert. Senden Sie ihn an Personen, die Sie anrufen sollen.</translation>
    </message>
    <message>
        <source>&lt;b&gt;WZP Desktop {version}&lt;/b&gt;&lt;br&gt;End-to-end encrypted voice calls, peer to peer over QUIC when possible, via a relay when not.</source>
        <translation>&lt;b&gt;WZP Desktop {version}&lt;/b&gt;&lt;br&gt;Ende-zu-Ende-verschlüsselte Sprachanrufe, direkt über QUIC, wenn möglich, sonst über ein Relay.</translation>
    </message>
    <message>
        <source>About WZP</source>
        <translation>Über WZP</translation>
    </message>
</context>
<context>
    <name>MicTester</name>
    <message>
        <source>The microphone could not be opened: {error}</source>
        <translation>Das Mikrofon konnte nicht geöffnet werden: {error}</translation>
    </message>
</context>
<context>
    <name>Notifications</name>
    <message>
        <source>Incoming call</source>
        <translation>Eingehender Anruf</translation>
    </message>
    <message>
        <source>{name} is calling you.</source>
        <translation>{name} ruft Sie an.</translation>
    </message>
    <message>
        <source>Accept privately</source>
        <translation>Privat annehmen</translation>
    </message>
    <message>
        <source>Accept</source>
        <translation>Annehmen</translation>
    </message>
    <message>
        <source>Decline</source>
        <translation>Ablehnen</translation>
    </message>
</context>
<context>
    <name>QrCode</name>
    <message>
        <source>QR code of your invite link</source>
        <translation>QR-Code Ihres Einladungslinks</translation>
    </message>
</context>
<context>
    <name>Quality</name>
    <message>
        <source>excellent</source>
        <translation>ausgezeichnet</translation>
    </message>
    <message>
        <source>good</source>
        <translation>gut</translation>
    </message>
    <message>
        <source>fair</source>
        <translation>mittel</translation>
    </message>
    <message>
        <source>poor</source>
        <translation>schlecht</translation>
    </message>
    <message>
        <source>very poor</source>
        <translation>sehr schlecht</translation>
    </message>
    <message>
        <source>Poor connection: long delay, you may talk over each other.</source>
        <translation>Schlechte Verbindung: lange Verzögerung, Sie reden vielleicht durcheinander.</translation>
    </message>
    <message>
        <source>Poor connection: audio is getting lost, you may hear gaps.</source>
        <translation>Schlechte Verbindung: Audio geht verloren, Sie hören vielleicht Lücken.</translation>
    </message>
    <message>
        <source>Poor connection: the network is uneven, you may hear gaps.</source>
        <translation>Schlechte Verbindung: Das Netz ist unruhig, Sie hören vielleicht Lücken.</translation>
    </message>
    <message>
        <source>Poor connection.</source>
        <translation>Schlechte Verbindung.</translation>
    </message>
</context>
<context>
    <name>RelayBar</name>
    <message>
        <source>Round-trip time to the relay</source>
        <translation>Umlaufzeit zum Relay</translation>
    </message>
</context>
<context>
    <name>RelayStatusModel</name>
    <message>
        <source>No relay chosen. Open Settings to add one or host one on this computer.</source>
        <extracomment>Set by the app while it hosts the relay: the addresses other computers reach it at.</extracomment>
        <translation>Kein Relay gewählt. Fügen Sie in den Einstellungen eines hinzu oder betreiben Sie eines auf diesem Computer.</translation>
    </message>
    <message>
        <source>Connecting to the relay {relay}…</source>
        <translation>Verbindung zum Relay {relay}…</translation>
    </message>
    <message>
        <source>Hosting a relay on this computer (no network address others can reach)</source>
        <translation>Relay auf diesem Computer (keine Netzwerkadresse, die andere erreichen)</translation>
    </message>
    <message>
        <source>Hosting a relay on this computer, reached by others at {addresses}</source>
        <translation>Relay auf diesem Computer, für andere erreichbar unter {addresses}</translation>
    </message>
    <message>
        <source>Connected to the relay {relay}</source>
        <translation>Verbunden mit dem Relay {relay}</translation>
    </message>
    <message>
        <source>Relay {relay} unreachable. Reconnecting in {secs} s…</source>
        <translation>Relay {relay} nicht erreichbar. Neuer Versuch in {secs} s…</translation>
    </message>
    <message>
        <source>Relay {relay} unreachable. Reconnecting now…</source>
        <translation>Relay {relay} nicht erreichbar. Neuer Versuch läuft…</translation>
    </message>
    <message>
        <source>The relay {relay} presented a different key. Not connected.</source>
        <translation>Das Relay {relay} hat einen anderen Schlüssel vorgelegt. Nicht verbunden.</translation>
    </message>
    <message>
        <source>You signed in from another place, so the relay closed this connection.</source>
        <translation>Sie haben sich an einem anderen Ort angemeldet, daher hat das Relay diese Verbindung geschlossen.</translation>
    </message>
    <message>
        <source>Offline</source>
        <translation>Offline</translation>
    </message>
    <message>
        <source>Reconnect now</source>
        <translation>Jetzt neu verbinden</translation>
    </message>
    <message>
        <source>Reconnect here</source>
        <translation>Hier neu verbinden</translation>
    </message>
    <message>
        <source>Review the new key…</source>
        <translation>Neuen Schlüssel prüfen…</translation>
    </message>
    <message>
        <source>Relay key changed</source>
        <translation>Relay-Schlüssel geändert</translation>
    </message>
    <message>
        <source>First connection to this relay: its key {key} is remembered from now on.</source>
        <translation>Erste Verbindung zu diesem Relay: Sein Schlüssel {key} wird ab jetzt gemerkt.</translation>
    </message>
    <message>
        <source>The relay's key {key} is the one remembered from the first connection.</source>
        <translation>Der Schlüssel {key} des Relays ist der seit der ersten Verbindung gemerkte.</translation>
    </message>
    <message>
        <source>The relay presented a different key ({key}).</source>
        <translation>Das Relay hat einen anderen Schlüssel vorgelegt ({key}).</translation>
    </message>
    <message>
        <source>The relay's key is {key}.</source>
        <translation>Der Schlüssel des Relays ist {key}.</translation>
    </message>
</context>
<context>
    <name>Sentences</name>
    <message>
        <source>Via relay</source>
        <translation>Über Relay</translation>
    </message>
    <message>
        <source>Direct</source>
        <translation>Direkt</translation>
    </message>
    <message>
        <source>Direct IPv6</source>
        <translation>Direkt IPv6</translation>
    </message>
    <message>
        <source>Direct over LAN</source>
        <translation>Direkt im LAN</translation>
    </message>
    <message>
        <source>Direct over internet</source>
        <translation>Direkt über Internet</translation>
    </message>
    <message>
        <source>The audio goes through the relay, still end-to-end encrypted: the relay cannot listen.</source>
        <translation>Das Audio läuft über das Relay, weiterhin Ende-zu-Ende-verschlüsselt: Das Relay kann nicht mithören.</translation>
    </message>
    <message>
        <source>The audio goes straight to the other computer over IPv6.</source>
        <translation>Das Audio geht über IPv6 direkt zum anderen Computer.</translation>
    </message>
    <message>
        <source>The audio goes straight to the other computer on your local network.</source>
        <translation>Das Audio geht in Ihrem lokalen Netz direkt zum anderen Computer.</translation>
    </message>
    <message>
        <source>The audio goes straight to the other computer across the internet.</source>
        <translation>Das Audio geht über das Internet direkt zum anderen Computer.</translation>
    </message>
    <message>
        <source>The audio goes straight to the other computer.</source>
        <translation>Das Audio geht direkt zum anderen Computer.</translation>
    </message>
    <message>
        <source>The call with {name} dropped after {duration}: the connection was lost.</source>
        <translation>Das Gespräch mit {name} brach nach {duration} ab: Die Verbindung ging verloren.</translation>
    </message>
    <message>
        <source>Call with {name} ended after {duration}.</source>
        <translation>Gespräch mit {name} nach {duration} beendet.</translation>
    </message>
    <message>
        <source>{name} is offline. Try again when they have WZP open.</source>
        <translation>{name} ist offline. Versuchen Sie es wieder, wenn WZP dort geöffnet ist.</translation>
    </message>
    <message>
        <source>{name} is busy in another call. Try again later.</source>
        <translation>{name} ist in einem anderen Gespräch. Versuchen Sie es später wieder.</translation>
    </message>
    <message>
        <source>{name} declined the call.</source>
        <translation>{name} hat den Anruf abgelehnt.</translation>
    </message>
    <message>
        <source>{name} did not answer.</source>
        <translation>{name} hat nicht geantwortet.</translation>
    </message>
    <message>
        <source>You cancelled the call to {name}.</source>
        <translation>Sie haben den Anruf an {name} abgebrochen.</translation>
    </message>
    <message>
        <source>{name} cannot be called right now.</source>
        <translation>{name} kann gerade nicht angerufen werden.</translation>
    </message>
    <message>
        <source>{name}'s relay could not be reached. Check your network, or ask them for a new invite link.</source>
        <translation>Das Relay von {name} war nicht erreichbar. Prüfen Sie Ihr Netzwerk oder bitten Sie um einen neuen Einladungslink.</translation>
    </message>
    <message>
        <source>The relay is handling too many calls right now. Try again in a moment.</source>
        <translation>Das Relay hat gerade zu viele Anrufe. Versuchen Sie es gleich noch einmal.</translation>
    </message>
    <message>
        <source>This identity signed in from another place, so this call was stopped.</source>
        <translation>Diese Identität hat sich an einem anderen Ort angemeldet, daher wurde der Anruf beendet.</translation>
    </message>
    <message>
        <source>The call to {name} could not be connected. The log in Settings has the details.</source>
        <translation>Der Anruf an {name} kam nicht zustande. Details stehen im Protokoll in den Einstellungen.</translation>
    </message>
    <message>
        <source>{name} hung up before the call connected.</source>
        <translation>{name} hat aufgelegt, bevor die Verbindung stand.</translation>
    </message>
    <message>
        <source>The call to {name} ended ({reason}).</source>
        <translation>Der Anruf an {name} endete ({reason}).</translation>
    </message>
    <message>
        <source>You declined the call from {name}.</source>
        <translation>Sie haben den Anruf von {name} abgelehnt.</translation>
    </message>
    <message>
        <source>The call from {name} could not be connected. The log in Settings has the details.</source>
        <translation>Der Anruf von {name} kam nicht zustande. Details stehen im Protokoll in den Einstellungen.</translation>
    </message>
    <message>
        <source>Missed call from {name}.</source>
        <translation>Verpasster Anruf von {name}.</translation>
    </message>
    <message>
        <source>You declined the call from {name} and blocked them: their calls will no longer ring. Unblock in Settings.</source>
        <translation>Sie haben den Anruf von {name} abgelehnt und die Person blockiert: Ihre Anrufe klingeln nicht mehr. Aufheben können Sie das in den Einstellungen.</translation>
    </message>
    <message>
        <source>Outgoing</source>
        <translation>Ausgehend</translation>
    </message>
    <message>
        <source>Incoming</source>
        <translation>Eingehend</translation>
    </message>
    <message>
        <source>Missed</source>
        <translation>Verpasst</translation>
    </message>
    <message>
        <source>Declined</source>
        <translation>Abgelehnt</translation>
    </message>
    <message>
        <source>offline</source>
        <translation>offline</translation>
    </message>
    <message>
        <source>busy</source>
        <translation>besetzt</translation>
    </message>
    <message>
        <source>declined</source>
        <translation>abgelehnt</translation>
    </message>
    <message>
        <source>no answer</source>
        <translation>keine Antwort</translation>
    </message>
    <message>
        <source>cancelled</source>
        <translation>abgebrochen</translation>
    </message>
    <message>
        <source>failed</source>
        <translation>fehlgeschlagen</translation>
    </message>
    <message>
        <source>unavailable</source>
        <translation>nicht erreichbar</translation>
    </message>
    <message>
        <source>relay unreachable</source>
        <translation>Relay nicht erreichbar</translation>
    </message>
</context>
<context>
    <name>SettingsDialog</name>
    <message>
        <source>Ask each time (Accept shows them your IP address, Accept privately does not)</source>
        <translation>Jedes Mal fragen („Annehmen“ zeigt Ihre IP-Adresse, „Privat annehmen“ nicht)</translation>
    </message>
    <message>
        <source>Always keep my IP address private (calls go through the relay)</source>
        <translation>Meine IP-Adresse immer verbergen (Anrufe laufen über das Relay)</translation>
    </message>
    <message>
        <source>Cone NAT (or no NAT)</source>
        <translation>Cone-NAT (oder kein NAT)</translation>
    </message>
    <message>
        <source>Symmetric NAT</source>
        <translation>Symmetrisches NAT</translation>
    </message>
    <message>
        <source>Several public addresses</source>
        <translation>Mehrere öffentliche Adressen</translation>
    </message>
    <message>
        <source>Unknown</source>
        <translation>Unbekannt</translation>
    </message>
    <message>
        <source>Probes:</source>
        <translation>Messungen:</translation>
    </message>
    <message>
        <source>{server}: failed — {error}</source>
        <translation>{server}: fehlgeschlagen — {error}</translation>
    </message>
    <message>
        <source>{server}: saw us as {address}</source>
        <translation>{server}: sah uns als {address}</translation>
    </message>
    <message>
        <source>Notes:</source>
        <translation>Hinweise:</translation>
    </message>
    <message>
        <source>Settings — WZP</source>
        <translation>Einstellungen — WZP</translation>
    </message>
    <message>
        <source>General</source>
        <translation>Allgemein</translation>
    </message>
    <message>
        <source>Relays</source>
        <translation>Relays</translation>
    </message>
    <message>
        <source>Audio</source>
        <translation>Audio</translation>
    </message>
    <message>
        <source>Network</source>
        <translation>Netzwerk</translation>
    </message>
    <message>
        <source>Blocked</source>
        <translation>Blockiert</translation>
    </message>
    <message>
        <source>Log</source>
        <translation>Protokoll</translation>
    </message>
    <message>
        <source>Your name</source>
        <translation>Ihr Name</translation>
    </message>
    <message>
        <source>Shown to people you call and to others on the relay. Leave empty to use your generated name.</source>
        <translation>Wird Angerufenen und anderen auf dem Relay gezeigt. Leer lassen für Ihren erzeugten Namen.</translation>
    </message>
    <message>
        <source>Callers without
direct calls allowed</source>
        <translation>Anrufer ohne erlaubte
direkte Anrufe</translation>
    </message>
    <message>
        <source>Show me in the relay's “Online now” list</source>
        <translation>Mich in der Liste „Jetzt online“ des Relays zeigen</translation>
    </message>
    <message>
        <source>When this is off, people on the relay do not see you online; those who have your fingerprint can still call you.</source>
        <translation>Ist das aus, sehen andere auf dem Relay Sie nicht online; wer Ihren Fingerabdruck hat, kann Sie trotzdem anrufen.</translation>
    </message>
    <message>
        <source>Visibility</source>
        <translation>Sichtbarkeit</translation>
    </message>
    <message>
        <source>Start WZP when I log in (in the tray)</source>
        <translation>WZP bei der Anmeldung starten (im Infobereich)</translation>
    </message>
    <message>
        <source>Start</source>
        <translation>Starten</translation>
    </message>
    <message>
        <source>Host a relay on this computer and use it</source>
        <translation>Ein Relay auf diesem Computer betreiben und verwenden</translation>
    </message>
    <message>
        <source>Relays you use</source>
        <translation>Ihre Relays</translation>
    </message>
    <message>
        <source>Relay addresses to add</source>
        <translation>Hinzuzufügende Relay-Adressen</translation>
    </message>
    <message>
        <source>e.g. relay.example.org or 192.168.1.20:4433
A service with several nodes: one address per line, or separated by commas</source>
        <translation>z. B. relay.example.org oder 192.168.1.20:4433
Ein Dienst mit mehreren Knoten: eine Adresse pro Zeile oder durch Kommas getrennt</translation>
    </message>
    <message>
        <source>Save…</source>
        <translation>Speichern…</translation>
    </message>
    <message>
        <source>Save a copy of the whole log file, e.g. for a bug report</source>
        <translation>Eine Kopie der ganzen Protokolldatei speichern, z. B. für einen Fehlerbericht</translation>
    </message>
    <message>
        <source>Add</source>
        <translation>Hinzufügen</translation>
    </message>
    <message>
        <source>Add these addresses as one relay (Ctrl+Enter)</source>
        <translation>Diese Adressen als ein Relay hinzufügen (Strg+Eingabe)</translation>
    </message>
    <message>
        <source>Remove</source>
        <translation>Entfernen</translation>
    </message>
    <message>
        <source>Use this relay</source>
        <translation>Dieses Relay verwenden</translation>
    </message>
    <message>
        <source>Relays you use:</source>
        <translation>Ihre Relays:</translation>
    </message>
    <message>
        <source>{relay}   (in use)</source>
        <translation>{relay}   (in Verwendung)</translation>
    </message>
    <message>
        <source>One relay service with {count} nodes, tried in this order</source>
        <translation>Ein Relay-Dienst mit {count} Knoten, in dieser Reihenfolge versucht</translation>
    </message>
    <message>
        <source>“{entry}” (entry {index}): {reason}.</source>
        <translation>„{entry}“ (Eintrag {index}): {reason}.</translation>
    </message>
    <message>
        <source>Echo cancellation (not needed with a headset; harmless)</source>
        <translation>Echounterdrückung (mit Headset nicht nötig, schadet aber nicht)</translation>
    </message>
    <message>
        <source>Noise suppression</source>
        <translation>Rauschunterdrückung</translation>
    </message>
    <message>
        <source>Automatic gain control</source>
        <translation>Automatische Lautstärkeregelung</translation>
    </message>
    <message>
        <source>Checks how your router maps connections, from what two relay addresses see. Cone NAT: direct calls usually work. Symmetric NAT: calls usually go through the relay.</source>
        <translation>Prüft, wie Ihr Router Verbindungen umsetzt, anhand dessen, was zwei Relay-Adressen sehen. Cone-NAT: Direkte Anrufe klappen meist. Symmetrisches NAT: Anrufe laufen meist über das Relay.</translation>
    </message>
    <message>
        <source>Detect NAT type</source>
        <translation>NAT-Typ erkennen</translation>
    </message>
    <message>
        <source>Not checked yet.</source>
        <translation>Noch nicht geprüft.</translation>
    </message>
    <message>
        <source>Connect to a relay first.</source>
        <translation>Verbinden Sie sich zuerst mit einem Relay.</translation>
    </message>
    <message>
        <source>Probing…</source>
        <translation>Wird gemessen…</translation>
    </message>
    <message>
        <source>The check could not run: {error}</source>
        <translation>Die Prüfung konnte nicht laufen: {error}</translation>
    </message>
    <message>
        <source>Calls from these people are declined without ringing; they only see that you declined. Unblocking takes effect at once.</source>
        <translation>Anrufe dieser Personen werden ohne Klingeln abgelehnt; sie sehen nur, dass Sie abgelehnt haben. Das Aufheben wirkt sofort.</translation>
    </message>
    <message>
        <source>Nobody is blocked. To block someone, right-click them in your contacts, the online list or the history, or press Block… when they call.</source>
        <translation>Niemand ist blockiert. Um jemanden zu blockieren, klicken Sie ihn in den Kontakten, der Online-Liste oder dem Verlauf mit der rechten Maustaste an, oder drücken Sie „Blockieren…“, wenn er anruft.</translation>
    </message>
    <message>
        <source>Unblock</source>
        <translation>Blockierung aufheben</translation>
    </message>
    <message>
        <source>Copy</source>
        <translation>Kopieren</translation>
    </message>
</context>
<context>
    <name>SignalBars</name>
    <message>
        <source>Connection quality</source>
        <translation>Verbindungsqualität</translation>
    </message>
    <message>
        <source>Connection: {quality} ({bars} of {max} bars)</source>
        <translation>Verbindung: {quality} ({bars} von {max} Balken)</translation>
    </message>
    <message>
        <source>Connection: not measured yet</source>
        <translation>Verbindung: noch nicht gemessen</translation>
    </message>
</context>
<context>
    <name>SpeakerTester</name>
    <message>
        <source>The speaker could not be opened: {error}</source>
        <translation>Der Lautsprecher konnte nicht geöffnet werden: {error}</translation>
    </message>
</context>
<context>
    <name>StatusDot</name>
    <message>
        <source>connected</source>
        <translation>verbunden</translation>
    </message>
    <message>
        <source>connecting</source>
        <translation>verbindet</translation>
    </message>
    <message>
        <source>reconnecting</source>
        <translation>verbindet neu</translation>
    </message>
    <message>
        <source>key changed</source>
        <translation>Schlüssel geändert</translation>
    </message>
    <message>
        <source>online</source>
        <translation>online</translation>
    </message>
    <message>
        <source>offline</source>
        <translation>offline</translation>
    </message>
    <message>
        <source>Status: {state}</source>
        <translation>Status: {state}</translation>
    </message>
</context>
<context>
    <name>Tray</name>
    <message>
        <source>Show WZP</source>
        <translation>WZP anzeigen</translation>
    </message>
    <message>
        <source>Mute</source>
        <translation>Stumm</translation>
    </message>
    <message>
        <source>Hang up</source>
        <translation>Auflegen</translation>
    </message>
    <message>
        <source>Settings…</source>
        <translation>Einstellungen…</translation>
    </message>
    <message>
        <source>Quit WZP</source>
        <translation>WZP beenden</translation>
    </message>
    <message>
        <source>1 missed call</source>
        <translation>1 verpasster Anruf</translation>
    </message>
    <message>
        <source>{count} missed calls</source>
        <translation>{count} verpasste Anrufe</translation>
    </message>
</context>
<context>
    <name>UndoBar</name>
    <message>
        <source>Undo</source>
        <translation>Rückgängig</translation>
    </message>
    <message>
        <source>Dismiss</source>
        <translation>Schließen</translation>
    </message>
</context>
<context>
    <name>VerifyBox</name>
    <message>
        <source>Verify — WZP</source>
        <translation>Überprüfen — WZP</translation>
    </message>
    <message>
        <source>Compare this code with {name}:</source>
        <translation>Vergleichen Sie diesen Code mit {name}:</translation>
    </message>
    <message>
        <source>The codes match</source>
        <translation>Die Codes stimmen überein</translation>
    </message>
    <message>
        <source>Not now</source>
        <translation>Nicht jetzt</translation>
    </message>
</context>
<context>
    <name>WelcomeDialog</name>
    <message>
        <source>Welcome to WZP</source>
        <translation>Willkommen bei WZP</translation>
    </message>
    <message>
        <source>Your identity was created on this computer. People call you with your fingerprint; send it to them however you like, and check it together on your first call. Calls are end-to-end encrypted.</source>
        <translation>Ihre Identität wurde auf diesem Computer erstellt. Andere rufen Sie über Ihren Fingerabdruck an; schicken Sie ihn auf beliebigem Weg und prüfen Sie ihn gemeinsam beim ersten Anruf. Anrufe sind Ende-zu-Ende-verschlüsselt.</translation>
    </message>
    <message>
        <source>Host a relay on this computer (simplest to get started)</source>
        <translation>Ein Relay auf diesem Computer betreiben (der einfachste Anfang)</translation>
    </message>
    <message>
        <source>Use a relay:</source>
        <translation>Ein Relay verwenden:</translation>
    </message>
    <message>
        <source>e.g. relay.example.org or 192.168.1.20:4433</source>
        <translation>z. B. relay.example.org oder 192.168.1.20:4433</translation>
    </message>
    <message>
        <source>WZP needs a relay to find the people you call (the audio goes directly when it can).</source>
        <translation>WZP braucht ein Relay, um die Angerufenen zu finden (das Audio läuft direkt, wenn es geht).</translation>
    </message>
    <message>
        <source>Start</source>
        <translation>Starten</translation>
    </message>
    <message>
        <source>Continue</source>
        <translation>Weiter</translation>
    </message>
    <message>
        <source>Enter the relay's host name or address.</source>
        <translation>Geben Sie den Hostnamen oder die Adresse des Relays ein.</translation>
    </message>
    <message>
        <source>“{entry}” (entry {index}): {reason}.</source>
        <translation>„{entry}“ (Eintrag {index}): {reason}.</translation>
    </message>
</context>
<context>
    <name>WzpApp</name>
    <message>
        <source>WZP is still running</source>
        <translation>WZP läuft weiter</translation>
    </message>
    <message>
        <source>Calls can still reach you. Click the tray icon to open WZP; quit from its menu or with Ctrl+Q.</source>
        <translation>Anrufe erreichen Sie weiterhin. Klicken Sie auf das Symbol im Infobereich, um WZP zu öffnen; beenden Sie es über dessen Menü oder mit Strg+Q.</translation>
    </message>
    <message>
        <source>End the call? — WZP</source>
        <translation>Gespräch beenden? — WZP</translation>
    </message>
    <message>
        <source>You are in a call with {name}.</source>
        <translation>Sie telefonieren mit {name}.</translation>
    </message>
    <message>
        <source>{name} is calling you.</source>
        <translation>{name} ruft Sie an.</translation>
    </message>
    <message>
        <source>Quitting ends the call.</source>
        <translation>Beenden legt auf.</translation>
    </message>
    <message>
        <source>Closing the window ends the call.</source>
        <translation>Schließen des Fensters legt auf.</translation>
    </message>
    <message>
        <source>Hang up and quit</source>
        <translation>Auflegen und beenden</translation>
    </message>
    <message>
        <source>Hang up and close</source>
        <translation>Auflegen und schließen</translation>
    </message>
    <message>
        <source>Stay in the call</source>
        <translation>Im Gespräch bleiben</translation>
    </message>
    <message>
        <source>no network address found</source>
        <translation>keine Netzwerkadresse gefunden</translation>
    </message>
    <message>
        <source>This computer's relay is running. Others can use it at {addresses}. Its key fingerprint is {key}.</source>
        <translation>Das Relay dieses Computers läuft. Andere erreichen es unter {addresses}. Sein Schlüssel-Fingerabdruck ist {key}.</translation>
    </message>
    <message>
        <source>Save log — WZP</source>
        <translation>Protokoll speichern — WZP</translation>
    </message>
    <message>
        <source>Text files (*.txt *.log)</source>
        <translation>Textdateien (*.txt *.log)</translation>
    </message>
    <message>
        <source>The log could not be saved to {path}: {error}.</source>
        <translation>Das Protokoll konnte nicht unter {path} gespeichert werden: {error}.</translation>
    </message>
    <message>
        <source>Log saved to {path}.</source>
        <translation>Protokoll unter {path} gespeichert.</translation>
    </message>
    <message>
        <source>The new relay settings apply after this call.</source>
        <translation>Die neuen Relay-Einstellungen gelten nach diesem Gespräch.</translation>
    </message>
    <message>
        <source>Settings saved.</source>
        <translation>Einstellungen gespeichert.</translation>
    </message>
    <message>
        <source>The relay's key changed — WZP</source>
        <translation>Der Schlüssel des Relays hat sich geändert — WZP</translation>
    </message>
    <message>
        <source>The relay {relay} presented a different key than last time.</source>
        <translation>Das Relay {relay} hat einen anderen Schlüssel vorgelegt als beim letzten Mal.</translation>
    </message>
    <message>
        <source>Someone may be intercepting your connection. Only trust the new key if the relay's owner told you they changed it, and the fingerprints below match what they told you.</source>
        <translation>Jemand könnte Ihre Verbindung abfangen. Vertrauen Sie dem neuen Schlüssel nur, wenn der Betreiber des Relays Ihnen die Änderung mitgeteilt hat und die Fingerabdrücke unten mit seinen Angaben übereinstimmen.</translation>
    </message>
    <message>
        <source>Key you trusted before:
{pinned}

Key presented now:
{presented}</source>
        <translation>Bisher vertrauter Schlüssel:
{pinned}

Jetzt vorgelegter Schlüssel:
{presented}</translation>
    </message>
    <message>
        <source>Trust the new key</source>
        <translation>Dem neuen Schlüssel vertrauen</translation>
    </message>
    <message>
        <source>Don't connect</source>
        <translation>Nicht verbinden</translation>
    </message>
    <message>
        <source>Not connected: the relay's key does not match. Ask the relay's owner, or choose another relay in Settings.</source>
        <translation>Nicht verbunden: Der Schlüssel des Relays stimmt nicht. Fragen Sie den Betreiber oder wählen Sie in den Einstellungen ein anderes Relay.</translation>
    </message>
</context>
</TS>
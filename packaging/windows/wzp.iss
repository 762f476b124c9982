; Inno Setup 6 script: WZP-Setup-<version>.exe from the PyInstaller bundle dist\wzp\.
;
;     ISCC.exe /DAppVersion=0.1.0 /DAppVersionNumeric=0.1.0.0 packaging\windows\wzp.iss
;
; packaging\build-windows.ps1 runs it with the version from pyproject.toml; it installs into Program Files\WZP
; (or the user's programs folder when not run as an administrator), adds a Start-menu shortcut (and optionally a
; desktop one), and registers an uninstaller in Apps & features. The user's data (%LOCALAPPDATA%) is left alone.

#ifndef AppVersion
  #error Pass /DAppVersion=X.Y.Z (packaging\build-windows.ps1 does, from pyproject.toml)
#endif
#ifndef AppVersionNumeric
  #define AppVersionNumeric AppVersion
#endif
#ifndef BundleDir
  #define BundleDir "..\..\dist\wzp"
#endif
#ifndef OutputDir
  #define OutputDir "..\..\dist"
#endif

[Setup]
; AppId identifies the installation for upgrades and the uninstaller: never change it.
AppId={{6B0E2F4C-7A1D-4C55-9E2B-3D8F1A6C5E70}
AppName=WZP
AppVersion={#AppVersion}
AppVerName=WZP {#AppVersion}
AppPublisher=WZP
AppComments=End-to-end encrypted voice calls
DefaultDirName={autopf}\WZP
DefaultGroupName=WZP
DisableProgramGroupPage=yes
PrivilegesRequiredOverridesAllowed=dialog
ArchitecturesAllowed=x64
ArchitecturesInstallIn64BitMode=x64
OutputDir={#OutputDir}
OutputBaseFilename=WZP-Setup-{#AppVersion}
SetupIconFile=..\..\resources\icons\wzp.ico
UninstallDisplayIcon={app}\wzp.exe
UninstallDisplayName=WZP {#AppVersion}
VersionInfoVersion={#AppVersionNumeric}
VersionInfoProductName=WZP Desktop
VersionInfoProductTextVersion={#AppVersion}
Compression=lzma2/max
SolidCompression=yes
WizardStyle=modern
CloseApplications=yes

[Tasks]
Name: "desktopicon"; Description: "{cm:CreateDesktopIcon}"; GroupDescription: "{cm:AdditionalIcons}"; Flags: unchecked

[InstallDelete]
; an upgrade replaces the whole bundle: no stale libraries from the previous version
Type: filesandordirs; Name: "{app}\_internal"

[Files]
Source: "{#BundleDir}\*"; DestDir: "{app}"; Flags: ignoreversion recursesubdirs createallsubdirs

[Registry]
; wzp: invite links open in WZP (a second launch hands the link to the running app)
Root: HKCU; Subkey: "Software\Classes\wzp"; ValueType: string; ValueName: ""; ValueData: "URL:WZP invite link"; Flags: uninsdeletekey
Root: HKCU; Subkey: "Software\Classes\wzp"; ValueType: string; ValueName: "URL Protocol"; ValueData: ""
Root: HKCU; Subkey: "Software\Classes\wzp\DefaultIcon"; ValueType: string; ValueName: ""; ValueData: "{app}\wzp.exe,0"
Root: HKCU; Subkey: "Software\Classes\wzp\shell\open\command"; ValueType: string; ValueName: ""; ValueData: """{app}\wzp.exe"" ""%1"""

[Icons]
Name: "{group}\WZP"; Filename: "{app}\wzp.exe"; Comment: "End-to-end encrypted voice calls"
Name: "{group}\{cm:UninstallProgram,WZP}"; Filename: "{uninstallexe}"
Name: "{autodesktop}\WZP"; Filename: "{app}\wzp.exe"; Tasks: desktopicon

[Run]
Filename: "{app}\wzp.exe"; Description: "{cm:LaunchProgram,WZP}"; Flags: nowait postinstall skipifsilent

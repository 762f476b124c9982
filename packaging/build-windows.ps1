# Build WZP for Windows: the PyInstaller bundle dist\wzp\ (wzp.exe, wzp-relay.exe, wzp-cli.exe and _internal\),
# then the installer dist\WZP-Setup-<version>.exe with Inno Setup 6.
#
#     powershell -ExecutionPolicy Bypass -File packaging\build-windows.ps1 [-Python PATH] [-NoInstaller]
#
# Needs: the project installed with its package extra (pip install -e .[package]: libopus 1.6 comes in the
# opuslib-next-bundled wheel; pip install the wzp-opus-dnn wheel from CI for deep PLC + OSCE);
# Inno Setup 6 (choco install innosetup) unless -NoInstaller. PortAudio comes with the sounddevice wheel.
param(
    [string]$Python = "",
    [switch]$NoInstaller
)
$ErrorActionPreference = "Stop"
$Root = Split-Path -Parent $PSScriptRoot
Set-Location $Root
if (-not $Python) { $Python = Join-Path $Root ".venv\Scripts\python.exe" }

& $Python -c "import PyInstaller"
if ($LASTEXITCODE) { throw "PyInstaller is missing: $Python -m pip install -e .[package]" }
$Version = (& $Python -c "import tomllib; print(tomllib.load(open('pyproject.toml', 'rb'))['project']['version'])").Trim()
$Numeric = (& $Python -c "import sys; sys.path.insert(0, 'packaging/windows'); import version_info as v; print('.'.join(map(str, v.version_tuple('$Version'))))").Trim()
Write-Host "build-windows: WZP $Version ($Numeric)"

if (-not (Test-Path "resources\icons\wzp.ico")) {
    $env:QT_QPA_PLATFORM = "offscreen"
    & $Python packaging\make_icons.py
    if ($LASTEXITCODE) { throw "make_icons.py failed" }
}

& $Python -m PyInstaller --noconfirm --clean --log-level WARN --distpath dist --workpath build\pyinstaller packaging\wzp.spec
if ($LASTEXITCODE) { throw "PyInstaller failed" }

# The console executables must start; the windowed one is checked with --self-test by CI.
& dist\wzp\wzp-relay.exe --help | Out-Null
if ($LASTEXITCODE) { throw "dist\wzp\wzp-relay.exe --help failed" }
$Size = (Get-ChildItem dist\wzp -Recurse -File | Measure-Object -Property Length -Sum).Sum / 1MB
Write-Host ("build-windows: dist\wzp ({0:N0} MB)" -f $Size)

if ($NoInstaller) { exit 0 }
$Iscc = (Get-Command iscc.exe -ErrorAction SilentlyContinue).Source
if (-not $Iscc) { $Iscc = Join-Path ${env:ProgramFiles(x86)} "Inno Setup 6\ISCC.exe" }
if (-not (Test-Path $Iscc)) { throw "Inno Setup 6 not found (choco install innosetup), or pass -NoInstaller" }
& $Iscc /Q "/DAppVersion=$Version" "/DAppVersionNumeric=$Numeric" "/DBundleDir=$Root\dist\wzp" "/DOutputDir=$Root\dist" packaging\windows\wzp.iss
if ($LASTEXITCODE) { throw "ISCC failed" }
Write-Host "build-windows: dist\WZP-Setup-$Version.exe"

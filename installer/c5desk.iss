; Inno Setup script for the Windows installer of c5desk (Inno Setup 6).
; Build the app first on Windows, from Git Bash:  bash installer/build.sh   (see installer/README.md)
; then compile this script:                      iscc installer\c5desk.iss
; It installs build\installer\dist\c5desk (the one-folder app) per user, with Start-menu entries for the app
; and for its self-test, and an optional desktop icon. The app never writes into its install folder (user
; settings and caches live under the user's profile), so a per-user install needs no administrator rights.

#define AppName "c5desk"
#define AppVersion "0.1.0"
#define Variant "lean"
#define DistDir "..\build\installer\dist\c5desk"

[Setup]
AppId={{6C1F3E2A-5B7D-4C19-9E0A-C5DE5C000001}
AppName={#AppName}
AppVersion={#AppVersion}
AppPublisher=c5desk project
AppComments=Ultrasound lesion outlining and malignancy scoring (research use, not a medical device)
DefaultDirName={autopf}\{#AppName}
DefaultGroupName={#AppName}
PrivilegesRequired=lowest
PrivilegesRequiredOverridesAllowed=dialog
ArchitecturesAllowed=x64compatible
ArchitecturesInstallIn64BitMode=x64compatible
OutputDir=..\build\installer
OutputBaseFilename=c5desk-{#AppVersion}-{#Variant}-setup
SetupIconFile=..\resources\icons\c5desk.ico
UninstallDisplayIcon={app}\c5desk.exe
Compression=lzma2/max
SolidCompression=yes
WizardStyle=modern
DisableProgramGroupPage=yes

[Tasks]
Name: "desktopicon"; Description: "{cm:CreateDesktopIcon}"; GroupDescription: "{cm:AdditionalIcons}"; Flags: unchecked

[Files]
Source: "{#DistDir}\*"; DestDir: "{app}"; Flags: ignoreversion recursesubdirs createallsubdirs

[Icons]
Name: "{group}\{#AppName}"; Filename: "{app}\c5desk.exe"; IconFilename: "{app}\_internal\resources\icons\c5desk.ico"
Name: "{group}\{#AppName} self-test"; Filename: "{cmd}"; Parameters: "/k ""{app}\c5desk-cli.exe"" --self-test"; IconFilename: "{app}\_internal\resources\icons\c5desk.ico"
Name: "{group}\Uninstall {#AppName}"; Filename: "{uninstallexe}"
Name: "{autodesktop}\{#AppName}"; Filename: "{app}\c5desk.exe"; IconFilename: "{app}\_internal\resources\icons\c5desk.ico"; Tasks: desktopicon

[Run]
; Run the self-test once, which also makes the first real start faster (the files are then in the OS cache).
; Its verdict is not shown here: the Start-menu entry "c5desk self-test" shows it in a console window.
Filename: "{app}\c5desk-cli.exe"; Parameters: "--self-test"; Flags: runhidden waituntilterminated; StatusMsg: "Checking the installation (self-test)..."
Filename: "{app}\c5desk.exe"; Description: "{cm:LaunchProgram,{#AppName}}"; Flags: nowait postinstall skipifsilent

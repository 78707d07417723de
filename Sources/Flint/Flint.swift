@_exported import FlintCore
@_exported import FlintBackend

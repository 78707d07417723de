@_exported import FlintBackend

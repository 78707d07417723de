@_exported import FlintBackend
@_exported import FlintCore
@_exported import FlintData
@_exported import FlintNN
@_exported import FlintDistributed

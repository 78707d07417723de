import FlintBackend

/// Lists the host processor as the one `cpu` device, served by a single `CPUBackend` that
/// lives as long as the process.
public struct CPUBackendProvider: BackendProvider {
    private static let shared = CPUBackend()

    public init() {}

    public var kind: DeviceInfo.Kind { .cpu }

    public func devices() -> [DeviceInfo] { [Self.shared.info] }

    public func makeBackend(for device: DeviceInfo) throws -> any Backend { Self.shared }
}

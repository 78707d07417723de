import FlintBackend

/// Lists every device the OpenCL loader finds (none when no loader or platform is installed)
/// and opens each as an `OpenCLBackend`, building its kernels.
public struct OpenCLBackendProvider: BackendProvider {
    public init() {}

    public var kind: DeviceInfo.Kind { .opencl }

    public func devices() -> [DeviceInfo] { OpenCLBackend.devices() }

    /// - Throws: `OpenCLError` when the device does not open (see `OpenCLBackend.init`).
    public func makeBackend(for device: DeviceInfo) throws -> any Backend {
        try OpenCLBackend(deviceIndex: device.index)
    }
}

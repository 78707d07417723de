/// How a backend plugs into Flint: it lists the devices of one kind and opens a backend for
/// each. Flint's registry asks every registered provider for its devices when the device list
/// is first needed, and opens a device's backend once, on first use.
///
/// A provider is cheap to create and does no work until asked: discovery may be slow (an
/// OpenCL loader scanning platforms) and opening slower still (kernel builds), so both wait
/// until a program uses devices.
public protocol BackendProvider: Sendable {
    /// The kind of every device this provider lists.
    var kind: DeviceInfo.Kind { get }

    /// The devices present, each with `kind` and its position as `index`. Empty when the
    /// runtime behind them is missing: that is not an error.
    func devices() -> [DeviceInfo]

    /// A backend for `device`, one of `devices()`.
    ///
    /// - Parameter device: the device to open.
    /// - Returns: the backend that runs every primitive on that device.
    /// - Throws: whatever keeps the device from opening (a driver refusing a context, a kernel
    ///   that does not build in strict mode); the error reaches the caller of `Device.named`.
    func makeBackend(for device: DeviceInfo) throws -> any Backend
}

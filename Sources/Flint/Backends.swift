import FlintBackend
import FlintCore
import FlintCPU
import FlintOpenCL

/// The one provider list: the backends that come with `import Flint`. FlintCore finds this
/// conformance by a dynamic cast on first use (see `LinkedBackends`), so programs get the CPU
/// and every OpenCL device without a setup call. The CPU comes first: it is `Device.cpu` and the
/// host that runs what a partly working device cannot.
extension LinkedBackends: BackendProviderList {
    /// The CPU backend, then OpenCL.
    public static var providers: [any BackendProvider] {
        [CPUBackendProvider(), OpenCLBackendProvider()]
    }
}

extension Device {
    /// True for an OpenCL device.
    public var isOpenCL: Bool { info.kind == .opencl }

    /// OpenCL device `index` (in `Device.available` order), opened and ready.
    ///
    /// - Parameter index: the device's position among the OpenCL devices.
    /// - Returns: the device.
    /// - Throws: `DeviceError.notFound` when there is no such device, `OpenCLError` when it does
    ///   not open.
    public static func opencl(_ index: Int = 0) throws -> Device {
        try named("opencl:\(index)")
    }

    /// The OpenCL loader library Flint opened (or was asked to open) and, when none is usable, why.
    public static var openCLLoader: (library: String, problem: String?) { OpenCLBackend.loaderStatus }
}

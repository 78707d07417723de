import Foundation
import FlintBackend
import FlintCPU
import FlintOpenCL
import Synchronization

/// One backend instance per device for the life of the process, created on first use.
enum BackendRegistry {
    static let cpu = CPUBackend()

    static let openCLDevices: [DeviceInfo] = OpenCLBackend.devices()

    private static let opened = Mutex<[Int: any Backend]>([:])
    /// Serialises OpenCL backend creation, which builds programs and may take seconds,
    /// without holding `opened` meanwhile.
    private static let opening = Mutex<Void>(())

    static func backend(for info: DeviceInfo) throws -> any Backend {
        switch info.kind {
        case .cpu:
            return cpu
        case .opencl:
            if let backend = opened.withLock({ $0[info.index] }) { return backend }
            return try opening.withLock { _ in
                if let backend = opened.withLock({ $0[info.index] }) { return backend }
                let backend = withHostFallback(try OpenCLBackend(deviceIndex: info.index))
                opened.withLock { $0[info.index] = backend }
                return backend
            }
        }
    }

    /// `backend` itself, or, when some of its kernel programs failed to build, wrapped so that
    /// their primitives run on the CPU backend; said once on stderr (the device opens once).
    static func withHostFallback(_ backend: OpenCLBackend) -> any Backend {
        let missing = backend.unavailablePrimitives
        guard !missing.isEmpty else { return backend }
        let reasons = backend.diagnostics.failedPrograms.map { "  \($0.reason)" }.joined(separator: "\n")
        let primitives = missing.sorted().map(\.rawValue).joined(separator: ", ")
        FileHandle.standardError.write(Data("""
            flint: on \(backend.info.identifier) (\(backend.info.name)) some OpenCL kernels failed to build:
            \(reasons)
              \(primitives) run on the CPU backend for this device instead (slower; results as on the CPU).
              Set FLINT_STRICT_KERNELS=1 to make this an error.

            """.utf8))
        return HostFallbackBackend(device: backend, host: cpu, unavailable: missing)
    }

    static let defaultDevice: Result<Device, any Error> = Result {
        if let requested = ProcessInfo.processInfo.environment["FLINT_DEVICE"], !requested.isEmpty {
            return try Device.named(requested)
        }
        if let gpu = openCLDevices.first(where: { $0.deviceType == "GPU" }) {
            let device = Device(info: gpu)
            do {
                try device.open()
                return device
            } catch {
                // Nobody asked for this GPU by name: say why it is skipped and carry on on the CPU.
                FileHandle.standardError.write(Data("flint: skipping \(device): \(error)\n".utf8))
            }
        }
        return .cpu
    }
}

import Foundation
import FlintBackend
import FlintCPU
import FlintOpenCL
import Synchronization

/// One backend instance per device for the life of the process, created on first use.
enum BackendRegistry {
    static let cpu = CPUBackend()

    static let openCLDevices: [DeviceInfo] = OpenCLBackend.devices()

    private static let opened = Mutex<[Int: OpenCLBackend]>([:])
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
                let backend = try OpenCLBackend(deviceIndex: info.index)
                opened.withLock { $0[info.index] = backend }
                return backend
            }
        }
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

import Foundation
import FlintBackend
import FlintOpenCL

/// A place tensors live and ops run: the CPU backend or one OpenCL device.
///
/// Selection is explicit: `Device.available` lists what is present, `Device.default` honours
/// `FLINT_DEVICE` (`cpu`, `opencl`, `opencl:N`) and otherwise prefers an OpenCL GPU, and
/// `Device.with(_:_:)` overrides the device for a scope.
public struct Device: Hashable, Sendable, CustomStringConvertible {
    /// What the backend reports about the device: kind, index, name, platform, memory.
    public let info: DeviceInfo

    /// The device `info` describes; it opens (and builds its kernels) on first use.
    ///
    /// - Parameter info: One of the descriptions `Device.available` lists.
    public init(info: DeviceInfo) { self.info = info }

    /// Whether both name the same device (same kind and index).
    public static func == (lhs: Device, rhs: Device) -> Bool {
        lhs.info.kind == rhs.info.kind && lhs.info.index == rhs.info.index
    }

    /// Hashes the kind and index, what `==` compares.
    public func hash(into hasher: inout Hasher) {
        hasher.combine(info.kind)
        hasher.combine(info.index)
    }

    /// `cpu` or `opencl:N`: what `Device.named(_:)` and `FLINT_DEVICE` accept.
    public var identifier: String { info.identifier }
    /// The identifier, `cpu` or `opencl:N`.
    public var description: String { identifier }
    /// Whether the device is an OpenCL one (a GPU, or PoCL's CPU device).
    public var isOpenCL: Bool { info.kind == .opencl }

    /// The CPU backend (OpenBLAS); always present.
    public static var cpu: Device { Device(info: BackendRegistry.cpu.info) }

    /// The CPU and every OpenCL device found. No OpenCL runtime simply means no OpenCL entries.
    public static var available: [Device] {
        [cpu] + BackendRegistry.openCLDevices.map(Device.init(info:))
    }

    /// OpenCL device `index` (in `Device.available` order), opened and ready.
    public static func opencl(_ index: Int = 0) throws -> Device {
        try named("opencl:\(index)")
    }

    /// Parses `cpu`, `opencl` (the first OpenCL GPU, else the first OpenCL device) or
    /// `opencl:N`, and opens the device so kernel build failures surface here as errors.
    public static func named(_ specifier: String) throws -> Device {
        let spec = specifier.trimmingCharacters(in: .whitespaces).lowercased()
        let openCL = BackendRegistry.openCLDevices
        let info: DeviceInfo?
        switch spec {
        case "cpu":
            info = BackendRegistry.cpu.info
        case "opencl", "gpu":
            info = openCL.first { $0.deviceType == "GPU" } ?? openCL.first
        default:
            if spec.hasPrefix("opencl:"), let index = Int(spec.dropFirst("opencl:".count)) {
                info = openCL.first { $0.index == index }
            } else {
                info = nil
            }
        }
        guard let info else {
            throw DeviceError.notFound(requested: specifier, available: available.map(\.info))
        }
        let device = Device(info: info)
        try device.open()
        return device
    }

    /// `FLINT_DEVICE` if set, else the first OpenCL GPU, else the CPU. Resolved once.
    public static var `default`: Device {
        get throws { try BackendRegistry.defaultDevice.get() }
    }

    /// The device ops use when none is given: the innermost `Device.with` scope, else `default`.
    /// Stops with the error's message if the default cannot be resolved; call `try Device.default`
    /// first to handle that case.
    public static var current: Device {
        if let scoped = Scope.device { return scoped }
        do {
            return try Device.default
        } catch {
            fatalError("Flint: no usable default device: \(error)")
        }
    }

    /// Runs `body` with `device` as `Device.current`.
    public static func with<R>(_ device: Device, _ body: () throws -> R) rethrows -> R {
        try Scope.$device.withValue(device, operation: body)
    }

    /// Runs `body` with `device` as `Device.current` (async form).
    public static func with<R>(_ device: Device, _ body: () async throws -> R) async rethrows -> R {
        try await Scope.$device.withValue(device, operation: body)
    }

    /// Creates the backend now (for OpenCL: builds every kernel program).
    public func open() throws {
        _ = try BackendRegistry.backend(for: info)
    }

    /// The backend behind this device. Opens it on first use and stops with the error if that
    /// fails; `open()` (or `Device.named`) reports such failures as thrown errors instead.
    public var backend: any Backend {
        do {
            return try BackendRegistry.backend(for: info)
        } catch {
            fatalError("Flint: cannot open device \(identifier): \(error)")
        }
    }

    /// Throws `DeviceError.allocationTooLarge` when a tensor of `shape` would not fit in one
    /// buffer on this device. Creating such a tensor stops the process (tensor ops cannot throw),
    /// so code that sizes tensors from user input (a batch size) checks here first.
    public func checkAllocation(shape: [Int], dtype: DType = .float32) throws {
        let bytes = shape.reduce((1, false)) { product, dimension in
            let (value, overflow) = product.0.multipliedReportingOverflow(by: Swift.max(dimension, 0))
            return (value, product.1 || overflow)
        }
        let (count, overflow) = bytes.0.multipliedReportingOverflow(by: dtype.byteCount)
        let limit = backend.maxAllocationBytes
        if bytes.1 || overflow || count > limit {
            throw DeviceError.allocationTooLarge(device: "\(identifier) (\(info.name))", shape: shape,
                                                 requested: bytes.1 || overflow ? nil : count, limit: limit)
        }
    }

    /// Kernel build times, failed programs and driver details, for reports such as `flint doctor`.
    public var diagnostics: BackendDiagnostics { backend.diagnostics }

    /// The OpenCL loader library Flint opened (or was asked to open) and, when none is usable, why.
    public static var openCLLoader: (library: String, problem: String?) { OpenCLBackend.loaderStatus }

    private enum Scope {
        @TaskLocal static var device: Device?
    }
}

/// Why a device could not be had, or could not hold a tensor.
public enum DeviceError: Error, CustomStringConvertible, Equatable {
    /// No device goes by the name `requested`; `available` lists those that do.
    case notFound(requested: String, available: [DeviceInfo])
    /// A tensor of `shape` needs `requested` bytes (nil: more than `Int.max`) in one buffer, more
    /// than the device's largest single allocation, `limit`.
    case allocationTooLarge(device: String, shape: [Int], requested: Int?, limit: Int)

    /// A message a user can act on, listing the devices or naming both sizes.
    public var description: String {
        switch self {
        case .notFound(let requested, let available):
            let list = available.map { "  \($0)" }.joined(separator: "\n")
            return "no device '\(requested)'. Use cpu, opencl or opencl:N; available devices:\n\(list)"
        case .allocationTooLarge(let device, let shape, let requested, let limit):
            let bytes = requested.map { "\($0) bytes" } ?? "more bytes than a 64-bit size can count"
            return "a tensor of shape \(shape) needs \(bytes) in one buffer, but \(device) allows at most "
                + "\(limit) bytes per buffer; use a smaller batch or model"
        }
    }
}

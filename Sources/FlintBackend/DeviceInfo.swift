import Foundation

/// What a device is, as discovery reports it. Backends fill this in; `Device` wraps it.
public struct DeviceInfo: Sendable, Hashable, CustomStringConvertible {
    /// The family a device belongs to: the name its ``BackendProvider`` serves, and the first
    /// part of its identifier (`opencl` in `opencl:1`).
    ///
    /// An open set of names rather than an enum, so that a backend in its own module or package
    /// adds a kind without editing Flint:
    ///
    /// ```swift
    /// extension DeviceInfo.Kind {
    ///     static let metal: Self = "metal"
    /// }
    /// ```
    public struct Kind: RawRepresentable, Hashable, Sendable, ExpressibleByStringLiteral, CustomStringConvertible {
        /// The name, in lower case: what users type before the colon.
        public let rawValue: String

        /// A kind named `rawValue` (compared without regard to case).
        public init(rawValue: String) { self.rawValue = rawValue.lowercased() }

        /// A kind from a string literal: `let kind: DeviceInfo.Kind = "metal"`.
        public init(stringLiteral value: String) { self.init(rawValue: value) }

        public var description: String { rawValue }

        /// The host processor. Flint falls back on the `cpu` device when no other is asked for,
        /// and runs there what a partly working device cannot; whichever backend registers this
        /// kind plays that role.
        public static let cpu: Kind = "cpu"
        /// OpenCL devices, one per device the OpenCL loader lists.
        public static let opencl: Kind = "opencl"
    }

    /// The provider's name for this device's family.
    public var kind: Kind
    /// Position among devices of the same kind (`opencl:N`); 0 for the CPU.
    public var index: Int
    /// The device's own name, as its driver reports it.
    public var name: String
    /// The platform or library behind the device (an OpenCL platform, `OpenBLAS 0.3.21`).
    public var platform: String
    /// "CPU", "GPU", "Accelerator" or "Other", as the driver reports it.
    public var deviceType: String
    /// Cores or compute units the device offers.
    public var computeUnits: Int
    /// The device's memory in bytes.
    public var memoryBytes: UInt64
    /// The driver's version string.
    public var driverVersion: String
    /// The spelling users type: `cpu`, `opencl:0`.
    public var identifier: String
    /// The highest clock the driver reports (`CL_DEVICE_MAX_CLOCK_FREQUENCY`), in MHz; 0 when unknown.
    public var maxClockMHz: Int

    /// Describes one device.
    ///
    /// - Parameters:
    ///   - kind: the device's family.
    ///   - index: its position among the devices of `kind`.
    ///   - identifier: what users type to name it; nil gives `kind:index` (`opencl:0`).
    ///     A kind that only ever has one device may use its bare name, as the CPU does (`cpu`).
    ///   - name: the device's own name.
    ///   - platform: the platform or library behind it.
    ///   - deviceType: "CPU", "GPU", "Accelerator" or "Other".
    ///   - computeUnits: cores or compute units.
    ///   - memoryBytes: the device's memory.
    ///   - driverVersion: the driver's version string.
    ///   - maxClockMHz: the highest clock the driver reports, in MHz (0: unknown).
    public init(
        kind: Kind, index: Int, identifier: String? = nil, name: String, platform: String, deviceType: String,
        computeUnits: Int, memoryBytes: UInt64, driverVersion: String, maxClockMHz: Int = 0
    ) {
        self.kind = kind
        self.index = index
        self.identifier = (identifier ?? "\(kind.rawValue):\(index)").lowercased()
        self.name = name
        self.platform = platform
        self.deviceType = deviceType
        self.computeUnits = computeUnits
        self.memoryBytes = memoryBytes
        self.driverVersion = driverVersion
        self.maxClockMHz = maxClockMHz
    }

    /// One line: identifier, type, name, platform, compute units and memory.
    public var description: String {
        let gib = Double(memoryBytes) / Double(1 << 30)
        let memory = gib >= 1 ? String(format: "%.1f GiB", gib) : "\(memoryBytes >> 20) MiB"
        return "\(identifier)  \(deviceType)  \(name)  [\(platform)]  \(computeUnits) CU  \(memory)"
    }
}

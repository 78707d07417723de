import Foundation

/// What a device is, as discovery reports it. Backends fill this in; `Device` wraps it.
public struct DeviceInfo: Sendable, Hashable, CustomStringConvertible {
    public enum Kind: String, Sendable, Hashable {
        case cpu
        case opencl
    }

    public var kind: Kind
    /// Position among devices of the same kind (`opencl:N`); 0 for the CPU.
    public var index: Int
    public var name: String
    public var platform: String
    /// "CPU", "GPU", "Accelerator" or "Other", as the driver reports it.
    public var deviceType: String
    public var computeUnits: Int
    public var memoryBytes: UInt64
    public var driverVersion: String
    /// The highest clock the driver reports (`CL_DEVICE_MAX_CLOCK_FREQUENCY`), in MHz; 0 when unknown.
    public var maxClockMHz: Int

    public init(
        kind: Kind, index: Int, name: String, platform: String, deviceType: String,
        computeUnits: Int, memoryBytes: UInt64, driverVersion: String, maxClockMHz: Int = 0
    ) {
        self.kind = kind
        self.index = index
        self.name = name
        self.platform = platform
        self.deviceType = deviceType
        self.computeUnits = computeUnits
        self.memoryBytes = memoryBytes
        self.driverVersion = driverVersion
        self.maxClockMHz = maxClockMHz
    }

    /// The spelling users type: `cpu`, `opencl:0`.
    public var identifier: String { kind == .cpu ? "cpu" : "opencl:\(index)" }

    public var description: String {
        let gib = Double(memoryBytes) / Double(1 << 30)
        let memory = gib >= 1 ? String(format: "%.1f GiB", gib) : "\(memoryBytes >> 20) MiB"
        return "\(identifier)  \(deviceType)  \(name)  [\(platform)]  \(computeUnits) CU  \(memory)"
    }
}

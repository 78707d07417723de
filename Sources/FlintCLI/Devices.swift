import ArgumentParser
import Flint
import Foundation

struct Devices: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List the devices Flint can run on (the CPU backend and every OpenCL device)."
    )

    @Flag(help: "One JSON object per device instead of a table.")
    var json = false

    func run() throws {
        let devices = Device.available
        let defaultDevice = try? Device.default
        if json {
            for device in devices {
                let info = device.info
                let object: [String: Any] = [
                    "id": device.identifier, "type": info.deviceType, "name": info.name, "platform": info.platform,
                    "compute_units": info.computeUnits, "memory_bytes": info.memoryBytes,
                    "driver_version": info.driverVersion, "default": device == defaultDevice,
                ]
                let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
                print(String(decoding: data, as: UTF8.self))
            }
            return
        }
        let rows = devices.map { device -> [String] in
            let info = device.info
            return [device.identifier + (device == defaultDevice ? " *" : ""), info.deviceType, info.name, info.platform,
                    "\(info.computeUnits)", TextTable.bytes(info.memoryBytes), info.driverVersion]
        }
        print(TextTable(header: ["device", "type", "name", "platform", "units", "memory", "driver"], rows: rows).rendered)
        print("* default device (FLINT_DEVICE=cpu|opencl|opencl:N overrides)")
        if !devices.contains(where: \.isOpenCL) {
            print("No OpenCL device found: install an OpenCL driver (e.g. pocl-opencl-icd) and the ICD loader (ocl-icd-libopencl1).")
        }
    }
}


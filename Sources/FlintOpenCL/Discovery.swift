import COpenCL
import Foundation
import FlintBackend

/// One OpenCL device as the ICD loader lists it.
struct DeviceHandle {
    var platform: cl_platform_id
    var device: cl_device_id
}

enum Discovery {
    /// Every device of every platform, in platform order then device order. Empty when the ICD
    /// loader finds no platform (CL_PLATFORM_NOT_FOUND_KHR) or anything else goes wrong.
    static func handles() -> [DeviceHandle] {
        guard CL.isAvailable else { return [] }
        var platformCount: cl_uint = 0
        guard CL.clGetPlatformIDs(0, nil, &platformCount) == CL_SUCCESS, platformCount > 0 else { return [] }
        var platforms = [cl_platform_id?](repeating: nil, count: Int(platformCount))
        guard CL.clGetPlatformIDs(platformCount, &platforms, &platformCount) == CL_SUCCESS else { return [] }
        var result: [DeviceHandle] = []
        for case let platform? in platforms.prefix(Int(platformCount)) {
            var deviceCount: cl_uint = 0
            guard CL.clGetDeviceIDs(platform, cl_device_type(CL_DEVICE_TYPE_ALL), 0, nil, &deviceCount) == CL_SUCCESS,
                deviceCount > 0
            else { continue }
            var devices = [cl_device_id?](repeating: nil, count: Int(deviceCount))
            guard CL.clGetDeviceIDs(platform, cl_device_type(CL_DEVICE_TYPE_ALL), deviceCount, &devices, &deviceCount)
                == CL_SUCCESS
            else { continue }
            for case let device? in devices.prefix(Int(deviceCount)) {
                result.append(DeviceHandle(platform: platform, device: device))
            }
        }
        return result
    }

    static func info(_ handle: DeviceHandle, index: Int) -> DeviceInfo {
        let type: cl_device_type = deviceValue(handle.device, CL_DEVICE_TYPE) ?? 0
        let typeName: String
        if type & cl_device_type(CL_DEVICE_TYPE_GPU) != 0 {
            typeName = "GPU"
        } else if type & cl_device_type(CL_DEVICE_TYPE_CPU) != 0 {
            typeName = "CPU"
        } else if type & cl_device_type(CL_DEVICE_TYPE_ACCELERATOR) != 0 {
            typeName = "Accelerator"
        } else {
            typeName = "Other"
        }
        let units: cl_uint = deviceValue(handle.device, CL_DEVICE_MAX_COMPUTE_UNITS) ?? 0
        let memory: cl_ulong = deviceValue(handle.device, CL_DEVICE_GLOBAL_MEM_SIZE) ?? 0
        let clock: cl_uint = deviceValue(handle.device, CL_DEVICE_MAX_CLOCK_FREQUENCY) ?? 0
        return DeviceInfo(
            kind: .opencl, index: index,
            name: deviceString(handle.device, CL_DEVICE_NAME),
            platform: platformString(handle.platform, CL_PLATFORM_NAME),
            deviceType: typeName,
            computeUnits: Int(units),
            memoryBytes: UInt64(memory),
            driverVersion: deviceString(handle.device, CL_DRIVER_VERSION),
            maxClockMHz: Int(clock))
    }

    /// A fixed-size device property, or nil when the driver does not answer.
    static func deviceValue<T: FixedWidthInteger>(_ device: cl_device_id, _ param: Int32) -> T? {
        var value: T = 0
        let status = withUnsafeMutableBytes(of: &value) {
            CL.clGetDeviceInfo(device, cl_device_info(param), $0.count, $0.baseAddress, nil)
        }
        return status == CL_SUCCESS ? value : nil
    }

    static func deviceString(_ device: cl_device_id, _ param: Int32) -> String {
        queryString { CL.clGetDeviceInfo(device, cl_device_info(param), $0, $1, $2) }
    }

    static func platformString(_ platform: cl_platform_id, _ param: Int32) -> String {
        queryString { CL.clGetPlatformInfo(platform, cl_platform_info(param), $0, $1, $2) }
    }

    /// Runs an OpenCL string query twice (size, then contents) and trims the result.
    static func queryString(
        _ query: (Int, UnsafeMutableRawPointer?, UnsafeMutablePointer<Int>?) -> cl_int
    ) -> String {
        var size = 0
        guard query(0, nil, &size) == CL_SUCCESS, size > 0 else { return "" }
        var bytes = [UInt8](repeating: 0, count: size)
        guard bytes.withUnsafeMutableBytes({ query(size, $0.baseAddress, nil) }) == CL_SUCCESS else { return "" }
        let text = String(decoding: bytes.prefix { $0 != 0 }, as: UTF8.self)
        return text.trimmingCharacters(in: .whitespacesAndNewlines)
    }
}

import Foundation

/// Opening the OpenCL ICD loader with `dlopen`, checked: a library that loads but lacks the
/// entry points Flint calls (`FLINT_OPENCL_LIBRARY` pointing at libz, say) is refused here
/// rather than failing at the first call, so the CPU backend keeps working.
struct Loader: Sendable {
    /// The `dlopen` handle as an address; nil when no usable loader was found.
    let handle: UInt?
    /// The library opened, or the one asked for.
    let name: String
    /// Why a library the user named was not used, for one line on stderr; nil when all is well
    /// or when the default loader is simply not installed (a CPU-only machine).
    let warning: String?

    /// Every OpenCL function this module calls (see `CL`).
    static let requiredSymbols = [
        "clGetPlatformIDs", "clGetPlatformInfo", "clGetDeviceIDs", "clGetDeviceInfo", "clCreateContext",
        "clRetainContext", "clReleaseContext", "clCreateCommandQueue", "clReleaseCommandQueue", "clCreateBuffer",
        "clReleaseMemObject", "clCreateProgramWithSource", "clBuildProgram", "clGetProgramBuildInfo",
        "clReleaseProgram", "clCreateKernelsInProgram", "clGetKernelInfo", "clReleaseKernel", "clSetKernelArg",
        "clFinish", "clEnqueueReadBuffer", "clEnqueueWriteBuffer", "clEnqueueNDRangeKernel",
    ]

    static let defaultNames = ["libOpenCL.so.1", "libOpenCL.so"]

    /// Opens `requested` (the value of `FLINT_OPENCL_LIBRARY`) or, when it is nil or empty, the
    /// system's loader.
    static func open(environment requested: String?) -> Loader {
        let flags = RTLD_NOW | RTLD_LOCAL
        guard let requested, !requested.trimmingCharacters(in: .whitespaces).isEmpty else {
            let warning = requested == nil ? nil : "FLINT_OPENCL_LIBRARY is set but empty; using the system's OpenCL loader"
            for name in defaultNames {
                if let handle = dlopen(name, flags) { return checked(handle, name: name, warning: warning) }
            }
            return Loader(handle: nil, name: defaultNames[0], warning: warning)
        }
        guard let handle = dlopen(requested, flags) else {
            let reason = dlerror().map { String(cString: $0) } ?? "dlopen failed"
            return Loader(handle: nil, name: requested,
                          warning: "cannot load FLINT_OPENCL_LIBRARY=\(requested) (\(reason)); no OpenCL device will be listed, the CPU backend still works")
        }
        return checked(handle, name: requested, warning: nil)
    }

    /// `handle` if it defines every required symbol, else closed and refused with a warning.
    private static func checked(_ handle: UnsafeMutableRawPointer, name: String, warning: String?) -> Loader {
        let missing = requiredSymbols.filter { dlsym(handle, $0) == nil }
        guard missing.isEmpty else {
            dlclose(handle)
            let listed = missing.prefix(3).joined(separator: ", ") + (missing.count > 3 ? ", …" : "")
            return Loader(handle: nil, name: name,
                          warning: "\(name) is not an OpenCL loader (it lacks \(listed)); no OpenCL device will be listed, the CPU backend still works")
        }
        return Loader(handle: UInt(bitPattern: handle), name: name, warning: warning)
    }
}

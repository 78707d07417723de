import COpenCL
import Foundation

/// The OpenCL ICD loader (`libOpenCL.so.1`), opened at run time rather than linked, so a
/// machine without it still runs Flint on the CPU: `isAvailable` is false and no OpenCL
/// device is listed. Every OpenCL call in this module goes through these wrappers.
enum CL {
    typealias ContextNotify = @convention(c) (UnsafePointer<CChar>?, UnsafeRawPointer?, Int, UnsafeMutableRawPointer?) -> Void
    typealias BuildNotify = @convention(c) (cl_program?, UnsafeMutableRawPointer?) -> Void

    /// What opening the loader gave: the library handle (an address, so the lazily opened global
    /// stays Sendable) and its name, or why there is none. Opened once per process; a problem
    /// with a library the user named in `FLINT_OPENCL_LIBRARY` is said once on stderr.
    static let loader: Loader = {
        let loader = Loader.open(environment: ProcessInfo.processInfo.environment["FLINT_OPENCL_LIBRARY"])
        if let warning = loader.warning {
            FileHandle.standardError.write(Data("flint: \(warning)\n".utf8))
        }
        return loader
    }()

    private static var library: UInt? { loader.handle }

    static var isAvailable: Bool { library != nil }

    private static func symbol<T>(_ name: String, as type: T.Type) -> T {
        guard let library, let pointer = dlsym(UnsafeMutableRawPointer(bitPattern: library), name) else {
            fatalError("OpenCL: \(name) is missing from the OpenCL library (\(loader.name))")
        }
        return unsafeBitCast(pointer, to: type)
    }

    @discardableResult
    static func clGetPlatformIDs(_ a0: cl_uint, _ a1: UnsafeMutablePointer<cl_platform_id?>?, _ a2: UnsafeMutablePointer<cl_uint>?) -> cl_int {
        symbol("clGetPlatformIDs", as: (@convention(c) (cl_uint, UnsafeMutablePointer<cl_platform_id?>?, UnsafeMutablePointer<cl_uint>?) -> cl_int).self)(a0, a1, a2)
    }
    @discardableResult
    static func clGetPlatformInfo(_ a0: cl_platform_id?, _ a1: cl_platform_info, _ a2: Int, _ a3: UnsafeMutableRawPointer?, _ a4: UnsafeMutablePointer<Int>?) -> cl_int {
        symbol("clGetPlatformInfo", as: (@convention(c) (cl_platform_id?, cl_platform_info, Int, UnsafeMutableRawPointer?, UnsafeMutablePointer<Int>?) -> cl_int).self)(a0, a1, a2, a3, a4)
    }
    @discardableResult
    static func clGetDeviceIDs(_ a0: cl_platform_id?, _ a1: cl_device_type, _ a2: cl_uint, _ a3: UnsafeMutablePointer<cl_device_id?>?, _ a4: UnsafeMutablePointer<cl_uint>?) -> cl_int {
        symbol("clGetDeviceIDs", as: (@convention(c) (cl_platform_id?, cl_device_type, cl_uint, UnsafeMutablePointer<cl_device_id?>?, UnsafeMutablePointer<cl_uint>?) -> cl_int).self)(a0, a1, a2, a3, a4)
    }
    @discardableResult
    static func clGetDeviceInfo(_ a0: cl_device_id?, _ a1: cl_device_info, _ a2: Int, _ a3: UnsafeMutableRawPointer?, _ a4: UnsafeMutablePointer<Int>?) -> cl_int {
        symbol("clGetDeviceInfo", as: (@convention(c) (cl_device_id?, cl_device_info, Int, UnsafeMutableRawPointer?, UnsafeMutablePointer<Int>?) -> cl_int).self)(a0, a1, a2, a3, a4)
    }
    @discardableResult
    static func clCreateContext(_ a0: UnsafePointer<cl_context_properties>?, _ a1: cl_uint, _ a2: UnsafePointer<cl_device_id?>?, _ a3: ContextNotify?, _ a4: UnsafeMutableRawPointer?, _ a5: UnsafeMutablePointer<cl_int>?) -> cl_context? {
        symbol("clCreateContext", as: (@convention(c) (UnsafePointer<cl_context_properties>?, cl_uint, UnsafePointer<cl_device_id?>?, ContextNotify?, UnsafeMutableRawPointer?, UnsafeMutablePointer<cl_int>?) -> cl_context?).self)(a0, a1, a2, a3, a4, a5)
    }
    @discardableResult
    static func clRetainContext(_ a0: cl_context?) -> cl_int {
        symbol("clRetainContext", as: (@convention(c) (cl_context?) -> cl_int).self)(a0)
    }
    @discardableResult
    static func clReleaseContext(_ a0: cl_context?) -> cl_int {
        symbol("clReleaseContext", as: (@convention(c) (cl_context?) -> cl_int).self)(a0)
    }
    @discardableResult
    static func clCreateCommandQueue(_ a0: cl_context?, _ a1: cl_device_id?, _ a2: cl_command_queue_properties, _ a3: UnsafeMutablePointer<cl_int>?) -> cl_command_queue? {
        symbol("clCreateCommandQueue", as: (@convention(c) (cl_context?, cl_device_id?, cl_command_queue_properties, UnsafeMutablePointer<cl_int>?) -> cl_command_queue?).self)(a0, a1, a2, a3)
    }
    @discardableResult
    static func clReleaseCommandQueue(_ a0: cl_command_queue?) -> cl_int {
        symbol("clReleaseCommandQueue", as: (@convention(c) (cl_command_queue?) -> cl_int).self)(a0)
    }
    @discardableResult
    static func clCreateBuffer(_ a0: cl_context?, _ a1: cl_mem_flags, _ a2: Int, _ a3: UnsafeMutableRawPointer?, _ a4: UnsafeMutablePointer<cl_int>?) -> cl_mem? {
        symbol("clCreateBuffer", as: (@convention(c) (cl_context?, cl_mem_flags, Int, UnsafeMutableRawPointer?, UnsafeMutablePointer<cl_int>?) -> cl_mem?).self)(a0, a1, a2, a3, a4)
    }
    @discardableResult
    static func clReleaseMemObject(_ a0: cl_mem?) -> cl_int {
        symbol("clReleaseMemObject", as: (@convention(c) (cl_mem?) -> cl_int).self)(a0)
    }
    @discardableResult
    static func clCreateProgramWithSource(_ a0: cl_context?, _ a1: cl_uint, _ a2: UnsafeMutablePointer<UnsafePointer<CChar>?>?, _ a3: UnsafePointer<Int>?, _ a4: UnsafeMutablePointer<cl_int>?) -> cl_program? {
        symbol("clCreateProgramWithSource", as: (@convention(c) (cl_context?, cl_uint, UnsafeMutablePointer<UnsafePointer<CChar>?>?, UnsafePointer<Int>?, UnsafeMutablePointer<cl_int>?) -> cl_program?).self)(a0, a1, a2, a3, a4)
    }
    @discardableResult
    static func clBuildProgram(_ a0: cl_program?, _ a1: cl_uint, _ a2: UnsafePointer<cl_device_id?>?, _ a3: UnsafePointer<CChar>?, _ a4: BuildNotify?, _ a5: UnsafeMutableRawPointer?) -> cl_int {
        symbol("clBuildProgram", as: (@convention(c) (cl_program?, cl_uint, UnsafePointer<cl_device_id?>?, UnsafePointer<CChar>?, BuildNotify?, UnsafeMutableRawPointer?) -> cl_int).self)(a0, a1, a2, a3, a4, a5)
    }
    @discardableResult
    static func clGetProgramBuildInfo(_ a0: cl_program?, _ a1: cl_device_id?, _ a2: cl_program_build_info, _ a3: Int, _ a4: UnsafeMutableRawPointer?, _ a5: UnsafeMutablePointer<Int>?) -> cl_int {
        symbol("clGetProgramBuildInfo", as: (@convention(c) (cl_program?, cl_device_id?, cl_program_build_info, Int, UnsafeMutableRawPointer?, UnsafeMutablePointer<Int>?) -> cl_int).self)(a0, a1, a2, a3, a4, a5)
    }
    @discardableResult
    static func clReleaseProgram(_ a0: cl_program?) -> cl_int {
        symbol("clReleaseProgram", as: (@convention(c) (cl_program?) -> cl_int).self)(a0)
    }
    @discardableResult
    static func clCreateKernelsInProgram(_ a0: cl_program?, _ a1: cl_uint, _ a2: UnsafeMutablePointer<cl_kernel?>?, _ a3: UnsafeMutablePointer<cl_uint>?) -> cl_int {
        symbol("clCreateKernelsInProgram", as: (@convention(c) (cl_program?, cl_uint, UnsafeMutablePointer<cl_kernel?>?, UnsafeMutablePointer<cl_uint>?) -> cl_int).self)(a0, a1, a2, a3)
    }
    @discardableResult
    static func clGetKernelInfo(_ a0: cl_kernel?, _ a1: cl_kernel_info, _ a2: Int, _ a3: UnsafeMutableRawPointer?, _ a4: UnsafeMutablePointer<Int>?) -> cl_int {
        symbol("clGetKernelInfo", as: (@convention(c) (cl_kernel?, cl_kernel_info, Int, UnsafeMutableRawPointer?, UnsafeMutablePointer<Int>?) -> cl_int).self)(a0, a1, a2, a3, a4)
    }
    @discardableResult
    static func clGetKernelWorkGroupInfo(_ a0: cl_kernel?, _ a1: cl_device_id?, _ a2: cl_kernel_work_group_info, _ a3: Int, _ a4: UnsafeMutableRawPointer?, _ a5: UnsafeMutablePointer<Int>?) -> cl_int {
        symbol("clGetKernelWorkGroupInfo", as: (@convention(c) (cl_kernel?, cl_device_id?, cl_kernel_work_group_info, Int, UnsafeMutableRawPointer?, UnsafeMutablePointer<Int>?) -> cl_int).self)(a0, a1, a2, a3, a4, a5)
    }
    @discardableResult
    static func clReleaseKernel(_ a0: cl_kernel?) -> cl_int {
        symbol("clReleaseKernel", as: (@convention(c) (cl_kernel?) -> cl_int).self)(a0)
    }
    @discardableResult
    static func clSetKernelArg(_ a0: cl_kernel?, _ a1: cl_uint, _ a2: Int, _ a3: UnsafeRawPointer?) -> cl_int {
        symbol("clSetKernelArg", as: (@convention(c) (cl_kernel?, cl_uint, Int, UnsafeRawPointer?) -> cl_int).self)(a0, a1, a2, a3)
    }
    @discardableResult
    static func clFinish(_ a0: cl_command_queue?) -> cl_int {
        symbol("clFinish", as: (@convention(c) (cl_command_queue?) -> cl_int).self)(a0)
    }
    @discardableResult
    static func clEnqueueReadBuffer(_ a0: cl_command_queue?, _ a1: cl_mem?, _ a2: cl_bool, _ a3: Int, _ a4: Int, _ a5: UnsafeMutableRawPointer?, _ a6: cl_uint, _ a7: UnsafePointer<cl_event?>?, _ a8: UnsafeMutablePointer<cl_event?>?) -> cl_int {
        symbol("clEnqueueReadBuffer", as: (@convention(c) (cl_command_queue?, cl_mem?, cl_bool, Int, Int, UnsafeMutableRawPointer?, cl_uint, UnsafePointer<cl_event?>?, UnsafeMutablePointer<cl_event?>?) -> cl_int).self)(a0, a1, a2, a3, a4, a5, a6, a7, a8)
    }
    @discardableResult
    static func clEnqueueWriteBuffer(_ a0: cl_command_queue?, _ a1: cl_mem?, _ a2: cl_bool, _ a3: Int, _ a4: Int, _ a5: UnsafeRawPointer?, _ a6: cl_uint, _ a7: UnsafePointer<cl_event?>?, _ a8: UnsafeMutablePointer<cl_event?>?) -> cl_int {
        symbol("clEnqueueWriteBuffer", as: (@convention(c) (cl_command_queue?, cl_mem?, cl_bool, Int, Int, UnsafeRawPointer?, cl_uint, UnsafePointer<cl_event?>?, UnsafeMutablePointer<cl_event?>?) -> cl_int).self)(a0, a1, a2, a3, a4, a5, a6, a7, a8)
    }
    @discardableResult
    static func clEnqueueNDRangeKernel(_ a0: cl_command_queue?, _ a1: cl_kernel?, _ a2: cl_uint, _ a3: UnsafePointer<Int>?, _ a4: UnsafePointer<Int>?, _ a5: UnsafePointer<Int>?, _ a6: cl_uint, _ a7: UnsafePointer<cl_event?>?, _ a8: UnsafeMutablePointer<cl_event?>?) -> cl_int {
        symbol("clEnqueueNDRangeKernel", as: (@convention(c) (cl_command_queue?, cl_kernel?, cl_uint, UnsafePointer<Int>?, UnsafePointer<Int>?, UnsafePointer<Int>?, cl_uint, UnsafePointer<cl_event?>?, UnsafeMutablePointer<cl_event?>?) -> cl_int).self)(a0, a1, a2, a3, a4, a5, a6, a7, a8)
    }
}

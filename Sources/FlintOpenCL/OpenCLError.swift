import COpenCL

/// Everything that can go wrong while finding a device, building kernels or talking to the driver.
public enum OpenCLError: Error, CustomStringConvertible, Equatable {
    /// `opencl:index` was asked for but only `available` OpenCL devices exist.
    case noSuchDevice(index: Int, available: Int)
    /// An OpenCL call failed; `name` spells `status` (e.g. `CL_OUT_OF_RESOURCES`).
    case call(function: String, status: Int32, name: String)
    /// A kernel program did not compile; `log` is the driver's full build log.
    case buildFailed(program: String, options: String, log: String)
    /// A kernels folder was given (argument or `FLINT_KERNELS_DIR`) but lacks this file.
    case missingKernelSource(path: String)
    /// A program built, but does not define a kernel the backend needs.
    case missingKernel(name: String, program: String)
    /// A kernel source file holds nothing to compile.
    case emptyKernelSource(path: String)
    /// One buffer larger than the device's largest single allocation was asked for.
    case allocationTooLarge(requested: Int, limit: Int, device: String)

    /// A failed call, with its status turned into the constant's name.
    static func failed(_ function: String, _ status: cl_int) -> OpenCLError {
        .call(function: function, status: status, name: statusName(status))
    }

    /// The `CL_…` constant for an OpenCL status code (OpenCL 1.2, plus the ICD loader's -1001).
    public static func statusName(_ status: Int32) -> String {
        switch status {
        case 0: "CL_SUCCESS"
        case -1: "CL_DEVICE_NOT_FOUND"
        case -2: "CL_DEVICE_NOT_AVAILABLE"
        case -3: "CL_COMPILER_NOT_AVAILABLE"
        case -4: "CL_MEM_OBJECT_ALLOCATION_FAILURE"
        case -5: "CL_OUT_OF_RESOURCES"
        case -6: "CL_OUT_OF_HOST_MEMORY"
        case -7: "CL_PROFILING_INFO_NOT_AVAILABLE"
        case -8: "CL_MEM_COPY_OVERLAP"
        case -9: "CL_IMAGE_FORMAT_MISMATCH"
        case -10: "CL_IMAGE_FORMAT_NOT_SUPPORTED"
        case -11: "CL_BUILD_PROGRAM_FAILURE"
        case -12: "CL_MAP_FAILURE"
        case -13: "CL_MISALIGNED_SUB_BUFFER_OFFSET"
        case -14: "CL_EXEC_STATUS_ERROR_FOR_EVENTS_IN_WAIT_LIST"
        case -15: "CL_COMPILE_PROGRAM_FAILURE"
        case -16: "CL_LINKER_NOT_AVAILABLE"
        case -17: "CL_LINK_PROGRAM_FAILURE"
        case -18: "CL_DEVICE_PARTITION_FAILED"
        case -19: "CL_KERNEL_ARG_INFO_NOT_AVAILABLE"
        case -30: "CL_INVALID_VALUE"
        case -31: "CL_INVALID_DEVICE_TYPE"
        case -32: "CL_INVALID_PLATFORM"
        case -33: "CL_INVALID_DEVICE"
        case -34: "CL_INVALID_CONTEXT"
        case -35: "CL_INVALID_QUEUE_PROPERTIES"
        case -36: "CL_INVALID_COMMAND_QUEUE"
        case -37: "CL_INVALID_HOST_PTR"
        case -38: "CL_INVALID_MEM_OBJECT"
        case -39: "CL_INVALID_IMAGE_FORMAT_DESCRIPTOR"
        case -40: "CL_INVALID_IMAGE_SIZE"
        case -41: "CL_INVALID_SAMPLER"
        case -42: "CL_INVALID_BINARY"
        case -43: "CL_INVALID_BUILD_OPTIONS"
        case -44: "CL_INVALID_PROGRAM"
        case -45: "CL_INVALID_PROGRAM_EXECUTABLE"
        case -46: "CL_INVALID_KERNEL_NAME"
        case -47: "CL_INVALID_KERNEL_DEFINITION"
        case -48: "CL_INVALID_KERNEL"
        case -49: "CL_INVALID_ARG_INDEX"
        case -50: "CL_INVALID_ARG_VALUE"
        case -51: "CL_INVALID_ARG_SIZE"
        case -52: "CL_INVALID_KERNEL_ARGS"
        case -53: "CL_INVALID_WORK_DIMENSION"
        case -54: "CL_INVALID_WORK_GROUP_SIZE"
        case -55: "CL_INVALID_WORK_ITEM_SIZE"
        case -56: "CL_INVALID_GLOBAL_OFFSET"
        case -57: "CL_INVALID_EVENT_WAIT_LIST"
        case -58: "CL_INVALID_EVENT"
        case -59: "CL_INVALID_OPERATION"
        case -60: "CL_INVALID_GL_OBJECT"
        case -61: "CL_INVALID_BUFFER_SIZE"
        case -62: "CL_INVALID_MIP_LEVEL"
        case -63: "CL_INVALID_GLOBAL_WORK_SIZE"
        case -64: "CL_INVALID_PROPERTY"
        case -65: "CL_INVALID_IMAGE_DESCRIPTOR"
        case -66: "CL_INVALID_COMPILER_OPTIONS"
        case -67: "CL_INVALID_LINKER_OPTIONS"
        case -68: "CL_INVALID_DEVICE_PARTITION_COUNT"
        case -69: "CL_INVALID_PIPE_SIZE"
        case -70: "CL_INVALID_DEVICE_QUEUE"
        case -71: "CL_INVALID_SPEC_ID"
        case -72: "CL_MAX_SIZE_RESTRICTION_EXCEEDED"
        case -1001: "CL_PLATFORM_NOT_FOUND_KHR"
        default: "unknown OpenCL status \(status)"
        }
    }

    public var description: String {
        switch self {
        case .noSuchDevice(let index, let available):
            if available == 0 {
                return "There is no OpenCL device opencl:\(index): no OpenCL device was found "
                    + "(is an OpenCL driver such as PoCL installed and registered in /etc/OpenCL/vendors?)."
            }
            let valid = available == 1 ? "opencl:0" : "opencl:0 … opencl:\(available - 1)"
            return "There is no OpenCL device opencl:\(index); \(available) found (\(valid)). "
                + "Run `flint devices` to list them."
        case .call(let function, let status, let name):
            var message = "OpenCL call \(function) failed with \(name) (\(status))."
            switch status {
            case -4, -5, -6, -61:
                message += " The device or host may be out of memory; try a smaller batch or model."
            case -1001, -1:
                message += " No usable OpenCL platform or device was found."
            default:
                break
            }
            return message
        case .buildFailed(let program, let options, let log):
            return """
                OpenCL program '\(program)' failed to build with options '\(options)'. \
                Fix Kernels/\(program).cl (or the copy in FLINT_KERNELS_DIR). Build log:
                \(log)
                """
        case .missingKernelSource(let path):
            return "OpenCL kernel source \(path) does not exist or cannot be read. "
                + "Point FLINT_KERNELS_DIR at a folder holding every Kernels/*.cl file, or unset it "
                + "to use the kernels embedded in the binary."
        case .missingKernel(let name, let program):
            return "OpenCL program '\(program)' built but defines no kernel '\(name)'; "
                + "Kernels/\(program).cl is out of date with the backend."
        case .emptyKernelSource(let path):
            return "OpenCL kernel source \(path) is empty; restore it from Kernels/ or unset FLINT_KERNELS_DIR."
        case .allocationTooLarge(let requested, let limit, let device):
            return "\(device) cannot hold one buffer of \(requested) bytes: its largest single allocation "
                + "(CL_DEVICE_MAX_MEM_ALLOC_SIZE) is \(limit) bytes. Use a smaller batch or model."
        }
    }
}

import COpenCL
import FlintBackend
import Foundation

/// A GEMM configuration built for the device: the kernel it launches and, for local-memory
/// tiles, the variant that copies interior tiles with vector loads.
struct GemmVariant {
    let config: GemmConfig
    let kernel: Kernel
    let vectorKernel: Kernel?
}

/// `gemm.cl` built once per configuration, on first use, and kept for the backend's lifetime.
/// The standard configuration comes from the program the backend built at start.
final class GemmPrograms: @unchecked Sendable {
    private let lock = NSLock()
    private var variants: [GemmConfig: Result<GemmVariant, OpenCLError>] = [:]
    private var programs: [cl_program] = []
    private var handles: [cl_kernel] = []

    init(standard: GemmConfig, kernels: KernelTable) {
        let kernel = standard.kernel == .registers ? kernels.gemm : kernels.gemmTiled
        let vector = standard.kernel == .tiled ? kernels.gemmTiledVector : nil
        variants[standard] = .success(GemmVariant(config: standard, kernel: kernel, vectorKernel: vector))
    }

    deinit {
        for handle in handles { CL.clReleaseKernel(handle) }
        for program in programs { CL.clReleaseProgram(program) }
    }

    /// `config` built (now, the first time), or why it cannot run on this device.
    func variant(_ config: GemmConfig, on backend: OpenCLBackend) -> Result<GemmVariant, OpenCLError> {
        lock.withLock {
            if let known = variants[config] { return known }
            let result: Result<GemmVariant, OpenCLError>
            do {
                result = .success(try build(config, backend))
            } catch let error as OpenCLError {
                result = .failure(error)
            } catch {
                result = .failure(.failed("building gemm for \(config): \(error)", CL_INVALID_VALUE))
            }
            variants[config] = result
            return result
        }
    }

    private func build(_ config: GemmConfig, _ backend: OpenCLBackend) throws -> GemmVariant {
        let options = backend.tuning.options(for: "gemm", gemm: config)
        let program = try OpenCLBackend.build(
            "gemm", source: backend.gemmSource, options: options, context: backend.context, device: backend.device)
        programs.append(program)
        let kernels = try OpenCLBackend.createKernels(in: program)
        handles += kernels.compactMap(\.handle)
        func find(_ name: String) throws -> Kernel {
            guard let kernel = kernels.first(where: { $0.name == name }) else {
                throw OpenCLError.missingKernel(name: name, program: "gemm")
            }
            // A kernel that needs many registers may allow fewer work-items than the device.
            let allowed = Self.workGroupLimit(kernel, backend.device)
            if config.local0 * config.local1 > allowed {
                throw OpenCLError.buildFailed(
                    program: "gemm", options: options,
                    log: "\(name) allows \(allowed) work-items per group, \(config) needs \(config.local0 * config.local1)")
            }
            return kernel
        }
        switch config.kernel {
        case .registers:
            return GemmVariant(config: config, kernel: try find("gemm"), vectorKernel: nil)
        case .tiled:
            return GemmVariant(config: config, kernel: try find("gemm_tiled"), vectorKernel: try find("gemm_tiled_vec"))
        }
    }

    /// `CL_KERNEL_WORK_GROUP_SIZE`: the most work-items a group of this kernel may have.
    static func workGroupLimit(_ kernel: Kernel, _ device: cl_device_id) -> Int {
        var value = 0
        let status = CL.clGetKernelWorkGroupInfo(
            kernel.handle, device, cl_kernel_work_group_info(CL_KERNEL_WORK_GROUP_SIZE), MemoryLayout<Int>.size, &value, nil)
        return status == CL_SUCCESS ? value : Int.max
    }
}

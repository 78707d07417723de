import COpenCL
import FlintBackend
import Foundation

extension OpenCLBackend {
    /// Build times, failed programs and the driver's own account of itself.
    public var diagnostics: BackendDiagnostics {
        let failures = Self.programNames.compactMap { name in
            failedPrograms[name].map { (program: name, reason: Self.summary(of: $0)) }
        }
        var details: [(name: String, value: String)] = [
            ("platform version", Discovery.platformString(platform, CL_PLATFORM_VERSION)),
            ("device version", Discovery.deviceString(device, CL_DEVICE_VERSION)),
            ("OpenCL C", Discovery.deviceString(device, CL_DEVICE_OPENCL_C_VERSION)),
            ("driver", info.driverVersion),
            ("largest buffer", "\(maxAllocationBytes) bytes"),
            ("work-group size", "\(tuning.localSize) (1-D kernels)"),
            ("kernel variants", tuning.elementsPerItem > 1 ? "cpu" : "gpu"),
        ]
        if let directory = ProcessInfo.processInfo.environment["FLINT_KERNELS_DIR"], !directory.isEmpty {
            details.append(("kernel sources", directory))
        }
        return BackendDiagnostics(programBuilds: programBuilds, failedPrograms: failures,
                                  unavailablePrimitives: unavailablePrimitives, details: details)
    }

    /// The OpenCL loader Flint opened (or was asked to) and, when none is usable, why.
    public static var loaderStatus: (library: String, problem: String?) {
        let loader = CL.loader
        return (loader.name, loader.handle == nil ? loader.warning ?? "not installed (no OpenCL runtime)" : nil)
    }

    /// The first line of an error, with a build log cut to its first error line, for one-line reports.
    static func summary(of error: OpenCLError) -> String {
        if case .buildFailed(let program, _, let log) = error {
            let lines = log.split(separator: "\n")
            var firstError = String(lines.first { $0.contains("error") } ?? lines.first ?? "")
            // Drivers compile a temporary copy (PoCL: ~/.cache/pocl/kcache/tempfile_XXXX.cl): name ours instead.
            if let range = firstError.range(of: #"\S*\.cl:"#, options: .regularExpression) {
                firstError.replaceSubrange(range, with: "\(program).cl:")
            }
            return "\(program).cl did not compile: \(firstError.trimmingCharacters(in: .whitespaces))"
        }
        return String(error.description.split(separator: "\n").first ?? "")
    }
}

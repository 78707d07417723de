import Flint
import Foundation
import Testing

@Suite struct Devices {
    @Test func cpuIsAlwaysAvailable() {
        #expect(Device.available.first == .cpu)
        #expect(Device.cpu.info.computeUnits >= 1 && Device.cpu.info.memoryBytes > 0)
    }

    @Test(.enabled(if: TestDevices.openCLRequired, "FLINT_REQUIRE_OPENCL is not set: a machine without OpenCL may skip the OpenCL half"))
    func openCLIsPresentWhenRequired() {
        #expect(!TestDevices.openCL.isEmpty, "FLINT_REQUIRE_OPENCL=1 but no usable OpenCL device: \(Device.available)")
        for device in TestDevices.openCL {
            #expect(!device.info.name.isEmpty && !device.info.platform.isEmpty && device.info.computeUnits > 0)
        }
    }

    /// The OpenCL loader is opened at run time: without it, the CPU is listed and works.
    @Test func missingOpenCLLibraryLeavesTheCPU() async {
        await #expect(processExitsWith: .success) {
            setenv("FLINT_OPENCL_LIBRARY", "/nonexistent/libOpenCL.so.1", 1)
            precondition(Device.available == [.cpu], "expected only the CPU, got \(Device.available)")
            precondition((Tensor([1, 2], on: .cpu) * 3).toArray() == [3, 6])
            do {
                _ = try Device.named("opencl")
                preconditionFailure("asking for OpenCL without a loader must be an error")
            } catch {
                precondition(error is DeviceError, "expected DeviceError.notFound, got \(error)")
            }
        }
    }

    @Test func namedDevicesResolve() throws {
        #expect(try Device.named("cpu") == .cpu)
        #expect(try Device.named(" CPU ") == .cpu)
        if let first = TestDevices.openCL.first {
            #expect(try Device.named("opencl:\(first.info.index)") == first)
            #expect(try Device.named("opencl").isOpenCL)
            #expect(try Device.opencl(first.info.index) == first)
        }
    }

    @Test func unknownDeviceIsAClearError() {
        for name in ["opencl:99", "cuda", "opencl:x", ""] {
            #expect {
                try Device.named(name)
            } throws: { error in
                guard let error = error as? DeviceError, case .notFound(let requested, let available) = error else { return false }
                let message = error.description
                return requested == name && available.count == Device.available.count
                    && message.contains("cpu") && message.contains("'\(name)'")
            }
        }
    }

    @Test func scopedOverrideBeatsDefault() throws {
        let fallback = Device.current
        for device in TestDevices.all {
            Device.with(device) {
                #expect(Device.current == device)
                #expect(Tensor.zeros([2]).device == device)
            }
        }
        #expect(Device.current == fallback)
    }

    @Test func defaultHonoursEnvironmentOrPrefersGPU() throws {
        let chosen = try Device.default
        if let requested = ProcessInfo.processInfo.environment["FLINT_DEVICE"], !requested.isEmpty {
            #expect(chosen == (try Device.named(requested)))
        } else if let gpu = Device.available.first(where: { $0.info.deviceType == "GPU" }) {
            #expect(chosen == gpu)
        } else {
            #expect(chosen == .cpu)
        }
    }
}

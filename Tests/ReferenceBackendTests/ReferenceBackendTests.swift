import BackendConformance
import FlintCore
import Foundation
import Testing

/// The reference backend, registered the way any plug-in registers: with FlintCore's registry,
/// from outside FlintCore. This target depends on FlintCore only, not on the `Flint` umbrella.
enum Reference {
    static let device: Device? = {
        BackendRegistry.register(ReferenceBackendProvider())
        return try? Device.named("reference")
    }()
}

@Suite struct ReferenceBackendConformance {
    /// The whole primitive-level suite, the same checks the CPU and OpenCL devices run.
    @Test(arguments: BackendConformance.checks)
    func primitive(_ check: ConformanceCheck) throws {
        let device = try #require(Reference.device, "the reference backend did not register")
        try check.run(device.backend)
    }
}

@Suite struct ReferenceBackendPlugIn {
    /// Registered at run time, listed after the providers already there (in this test process,
    /// which links every test target, those of the `Flint` umbrella), and named like any device.
    @Test func registeredBesideTheOthers() throws {
        let device = try #require(Reference.device)
        #expect(Device.available.last == device)
        #expect(BackendRegistry.kinds.last == .reference)
        #expect(device.identifier == "reference" && device.info.kind == .reference)
        #expect(try Device.named("REFERENCE:0") == device && Device.named(" reference ") == device)
        #expect(Tensor([1, 2], on: device).device == device)
        #expect {
            try Device.named("reference:1")
        } throws: { error in
            guard case DeviceError.notFound(_, let available)? = error as? DeviceError else { return false }
            return available.contains(device.info) && "\(error)".contains("reference")
        }
    }

    /// The plug-in needs nothing from FlintCore beyond the registry: FlintCore imports no backend.
    @Test func flintCoreImportsNoConcreteBackend() throws {
        let sources = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../Sources/FlintCore")
            .standardized
        let files = try FileManager.default.contentsOfDirectory(at: sources, includingPropertiesForKeys: nil)
            .filter { $0.pathExtension == "swift" }
        #expect(files.count > 5)
        for file in files {
            let text = try String(contentsOf: file, encoding: .utf8)
            for module in ["FlintCPU", "FlintOpenCL", "COpenCL", "CBLAS"] {
                #expect(!text.contains("import \(module)"), "\(file.lastPathComponent) imports \(module)")
            }
        }
    }

    /// Tensor ops on the plug-in, through every composed default: argmax, softmax, max pooling
    /// (forward and backward) and the im2col/col2im of a convolution.
    @Test func tensorOpsRunOnThePlugIn() throws {
        let device = try #require(Reference.device)
        let x = Tensor([1, 3, 3, -1, .nan, 2], shape: [2, 3], on: device)
        #expect(x.argmax(axis: 1).toInt32Array() == [1, 1])
        let p = Tensor([0, 0, Float(Foundation.log(2.0))], shape: [1, 3], on: device).softmax()
        #expect(zip(p.toArray(), [0.25, 0.25, 0.5]).allSatisfy { abs($0 - $1) < 1e-6 })

        let image = Tensor((0..<16).map { Float($0 % 5) }, shape: [1, 4, 4, 1], on: device).requiringGrad()
        let pooled = image.maxPool2d(size: (2, 2))
        #expect(pooled.toArray() == [4, 3, 4, 4])
        pooled.sum().backward()
        let gradient = try #require(image.grad).toArray()
        #expect(gradient.indices.filter { gradient[$0] != 0 } == [3, 4, 9, 14] && gradient.reduce(0, +) == 4)

        let filter = Tensor([1, 0, 0, -1], shape: [2, 2, 1, 1], on: device).requiringGrad()
        let convolved = image.conv2d(filter, padding: .same)
        #expect(convolved.shape == [1, 4, 4, 1])
        convolved.sum().backward()
        #expect(filter.grad?.shape == [2, 2, 1, 1])
    }

    /// A least-squares fit by gradient descent, entirely on the plug-in: the loss falls to the noise.
    @Test func aSmallModelTrainsOnThePlugIn() throws {
        let device = try #require(Reference.device)
        let x = Tensor.uniform([64, 3], low: -1, high: 1, seed: 1, on: device)
        let truth = Tensor([2, -1, 0.5], shape: [3, 1], on: device)
        let y = x.matmul(truth) + 0.25
        var w = Tensor.zeros([3, 1], on: device), b = Tensor.zeros([1], on: device)
        var losses: [Float] = []
        for _ in 0..<200 {
            let (wLeaf, bLeaf) = (w.requiringGrad(), b.requiringGrad())
            let loss = (x.matmul(wLeaf) + bLeaf - y).square().mean()
            loss.backward()
            losses.append(loss.item())
            w = (wLeaf - wLeaf.grad! * 0.3).detached()
            b = (bLeaf - bLeaf.grad! * 0.3).detached()
        }
        #expect(losses.last! < 1e-4 && losses.last! < losses.first! / 1000, "losses \(losses.first!) → \(losses.last!)")
        #expect(zip(w.toArray(), [2, -1, 0.5]).allSatisfy { abs($0 - $1) < 0.01 })
    }
}

import CGemm
import CVectorMath
import FlintBackend

// A convolution's input gradient as one product whose stores add into the image's gradient
// (`flint_input_gradient`): no column gradient written and read back by col2im. The Keras
// convnet's second layer at batch 128: that gradient is 85 MB, made and folded in chunks.

extension CPUBackend {
    /// Where the product over the image runs (`convolvesImplicitly`) and its AVX-512 tiles are in use.
    public func convolvesInputGradientWithoutColumns(_ geometry: ConvGeometry) -> Bool {
        Self.convolvesImplicitly(geometry) && flint_sgemm_avx512_in_use() != 0
    }

    public func conv2dInputGradient(_ gradient: any DeviceBuffer, gradientOffset: Int, filter: any DeviceBuffer, filterOffset: Int,
                                    geometry g: ConvGeometry, filters: Int, out: any DeviceBuffer) {
        guard convolvesInputGradientWithoutColumns(g) else {
            return composedConv2dInputGradient(gradient, gradientOffset: gradientOffset, filter: filter, filterOffset: filterOffset,
                                               geometry: g, filters: filters, out: out)
        }
        implicitInputGradient(gradient, gradientOffset: gradientOffset, filter: filter, filterOffset: filterOffset, geometry: g,
                              filters: filters, out: out, relu: nil)
    }

    /// Each image's gradient is masked by the ReLU's output, and summed for its bias, as soon as
    /// it is complete, while it is in cache (86 KB an image in the Keras convnet's first layer):
    /// ReLU's own pass read the 11 MB gradient back from memory with the output, and wrote it again.
    public func conv2dInputGradient(_ gradient: any DeviceBuffer, gradientOffset: Int, filter: any DeviceBuffer, filterOffset: Int,
                                    geometry g: ConvGeometry, filters: Int, reluOutput: any DeviceBuffer, reluOutputOffset: Int,
                                    out: any DeviceBuffer, sums: (any DeviceBuffer)?) {
        guard convolvesInputGradientWithoutColumns(g), g.channels > 0 else {
            return composedConv2dInputGradient(gradient, gradientOffset: gradientOffset, filter: filter, filterOffset: filterOffset,
                                               geometry: g, filters: filters, reluOutput: reluOutput,
                                               reluOutputOffset: reluOutputOffset, out: out, sums: sums)
        }
        let primitive: StaticString = "conv2dInputGradient"
        let y = cpuBuffer(reluOutput, primitive)
        checkRange(y, offset: reluOutputOffset, count: g.batch * g.height * g.width * g.channels, primitive, "reluOutput")
        let totals = sums.map { cpuBuffer($0, primitive) }
        if let totals { checkRange(totals, offset: 0, count: g.channels, primitive, "sums") }
        let tasks = Self.inputGradientTasks(g, filters: filters)
        var partials = [Double](repeating: 0, count: tasks * g.channels)
        partials.withUnsafeMutableBufferPointer { partials in
            implicitInputGradient(gradient, gradientOffset: gradientOffset, filter: filter, filterOffset: filterOffset, geometry: g,
                                  filters: filters, out: out, relu: (UnsafePointer(y.floats + reluOutputOffset), partials.baseAddress!))
        }
        if let totals {
            partials.withUnsafeBufferPointer { partials in
                Self.addColumnSums(partials.baseAddress!, parts: tasks, channels: g.channels, into: totals.floats)
            }
        }
    }

    /// `out[c]` = the sum over `parts` rows of `partials` (`channels` doubles each), in row order.
    static func addColumnSums(_ partials: UnsafePointer<Double>, parts: Int, channels: Int, into out: UnsafeMutablePointer<Float>) {
        for c in 0..<channels { out[c] = Float((0..<parts).reduce(0.0) { $0 + partials[$1 * channels + c] }) }
    }

    /// The cores the input gradient of `g` runs on: whole images each.
    private static func inputGradientTasks(_ g: ConvGeometry, filters: Int) -> Int {
        g.patchCount * g.patchSize * filters < 64 * 64 * 64 ? 1 : min(Parallel.cores, g.batch)
    }

    /// The input gradient over the image; with `relu`, each image's then masked by the ReLU's
    /// output (NHWC like the image) and added into the task's column sums (`channels` doubles a task).
    private func implicitInputGradient(_ gradient: any DeviceBuffer, gradientOffset: Int, filter: any DeviceBuffer,
                                       filterOffset: Int, geometry g: ConvGeometry, filters: Int, out: any DeviceBuffer,
                                       relu: (output: UnsafePointer<Float>, sums: UnsafeMutablePointer<Double>)?) {
        let source = cpuBuffer(gradient, "conv2dInputGradient"), weights = cpuBuffer(filter, "conv2dInputGradient")
        let target = cpuBuffer(out, "conv2dInputGradient")
        checkGeometry(g, "conv2dInputGradient")
        ensure(filters >= 0, "CPUBackend.conv2dInputGradient: negative filter count \(filters)")
        checkRange(source, offset: gradientOffset, count: g.patchCount * filters, "conv2dInputGradient", "gradient")
        checkRange(weights, offset: filterOffset, count: g.patchSize * filters, "conv2dInputGradient", "filter")
        checkRange(target, offset: 0, count: g.imageCount, "conv2dInputGradient", "output")
        let dy = UnsafePointer(source.floats + gradientOffset), dx = target.floats
        let tasks = Self.inputGradientTasks(g, filters: filters)
        let plan = InputGradientPlan(self, geometry: g, filters: filters, filter: UnsafePointer(weights.floats + filterOffset),
                                     tasks: tasks)
        // Whole images per core: no two cores add into the same element, and each image's sums
        // run in the same order however many cores share the batch. Unpadded, one call takes a
        // core's images; padded, each image is summed into the core's padded copy, then cropped.
        withExtendedLifetime(plan) {
            Parallel.run(tasks: tasks) { task in
                let images = Parallel.range(task, of: tasks, count: g.batch)
                if !plan.padded && relu == nil {
                    return plan.sum(images.count, gradient: dy + images.lowerBound * plan.positionCount * filters,
                                    into: dx + images.lowerBound * plan.imageSize)
                }
                for n in images {
                    plan.image(gradient: dy + n * plan.positionCount * filters, task: task, into: dx + n * plan.imageSize,
                               relu: relu.map { ($0.output + n * plan.imageSize, $0.sums + task * g.channels) })
                }
            }
        }
    }
}

/// What a convolution's input gradient (`flint_input_gradient`) needs for any of its images: the
/// offsets of one image's positions and of the taps (in the padded image when the geometry pads),
/// the filter packed, and a padded image per task to sum into where it pads.
final class InputGradientPlan {
    let geometry: ConvGeometry, filters: Int
    let padded: Bool
    let positionCount: Int, imageSize: Int
    private let height: Int, width: Int, paddedSize: Int
    private let tables: CPUBuffer, packed: CPUBuffer, copies: CPUBuffer?

    init(_ backend: CPUBackend, geometry g: ConvGeometry, filters: Int, filter w: UnsafePointer<Float>, tasks: Int) {
        (geometry, self.filters) = (g, filters)
        (height, width, padded) = ConvolutionLayout.extent(g)
        positionCount = g.outHeight * g.outWidth
        imageSize = g.height * g.width * g.channels
        paddedSize = height * width * g.channels
        tables = backend.cpuBuffer(backend.allocate(byteCount: (positionCount + g.patchSize) * MemoryLayout<Int>.stride),
                                   "conv2dInputGradient")
        let positions = tables.pointer.assumingMemoryBound(to: Int.self), taps = positions + positionCount
        ConvolutionLayout.fillTables(g, images: 1, width: width, height: height, positions: positions, taps: taps)
        let packedCount = flint_input_gradient_packed_size(g.patchSize, filters, taps)
        packed = backend.cpuBuffer(backend.allocate(byteCount: max(packedCount, 1) * MemoryLayout<Float>.stride),
                                   "conv2dInputGradient")
        flint_input_gradient_pack(g.patchSize, filters, taps, w, packed.floats)
        copies = padded ? backend.cpuBuffer(backend.allocate(byteCount: tasks * paddedSize * MemoryLayout<Float>.stride),
                                            "conv2dInputGradient") : nil
    }

    private var positions: UnsafeMutablePointer<Int> { tables.pointer.assumingMemoryBound(to: Int.self) }
    private var taps: UnsafeMutablePointer<Int> { positions + positionCount }

    /// `count` consecutive images' gradients (their output gradients from `dy`) into `target`,
    /// `stride` floats apart (the images, or a padded copy), overwritten.
    func sum(_ count: Int, gradient dy: UnsafePointer<Float>, into target: UnsafeMutablePointer<Float>, stride: Int? = nil) {
        let stride = stride ?? imageSize
        target.update(repeating: 0, count: count * stride)
        flint_input_gradient(count, positionCount, filters, geometry.patchSize, dy, positions, taps, packed.floats, target, stride)
    }

    /// One image's gradient from its output gradient `dy` into `image`, cropped from task
    /// `task`'s padded copy where the geometry pads; with `relu`, then ReLU's adjoint in place
    /// (masked by the ReLU's output for this image) with its column sums added into `relu.sums`.
    func image(gradient dy: UnsafePointer<Float>, task: Int, into image: UnsafeMutablePointer<Float>,
               relu: (output: UnsafePointer<Float>, sums: UnsafeMutablePointer<Double>)?) {
        let g = geometry
        if let copy = copies?.floats {
            sum(1, gradient: dy, into: copy + task * paddedSize, stride: paddedSize)
            Self.crop(copy + task * paddedSize, height: height, width: width, geometry: g, into: image)
        } else {
            sum(1, gradient: dy, into: image)
        }
        if let relu { flint_relu_gradient_rows(image, relu.output, g.height * g.width, g.channels, image, relu.sums) }
    }

    /// The image's part of a padded image's sums (rows and columns no output reaches get zero).
    static func crop(_ sums: UnsafePointer<Float>, height h: Int, width w: Int, geometry g: ConvGeometry,
                     into image: UnsafeMutablePointer<Float>) {
        let c = g.channels
        let columns = max(0, min(g.width, w - g.padLeft))
        for ih in 0..<g.height {
            let row = image + ih * g.width * c, y = ih + g.padTop
            guard y < h, columns > 0 else {
                row.update(repeating: 0, count: g.width * c)
                continue
            }
            row.update(from: sums + (y * w + g.padLeft) * c, count: columns * c)
            (row + columns * c).update(repeating: 0, count: (g.width - columns) * c)
        }
    }
}

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
            for c in 0..<g.channels { totals.floats[c] = Float((0..<tasks).reduce(0.0) { $0 + partials[$1 * g.channels + c] }) }
        }
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
        let imageSize = g.height * g.width * g.channels
        checkRange(source, offset: gradientOffset, count: g.patchCount * filters, "conv2dInputGradient", "gradient")
        checkRange(weights, offset: filterOffset, count: g.patchSize * filters, "conv2dInputGradient", "filter")
        checkRange(target, offset: 0, count: g.batch * imageSize, "conv2dInputGradient", "output")
        let dy = UnsafePointer(source.floats + gradientOffset), w = UnsafePointer(weights.floats + filterOffset)
        let dx = target.floats
        // The offsets of one image's positions and of the taps, in the padded image when it pads.
        let (h, wide, padded) = ConvolutionLayout.extent(g)
        let positionCount = g.outHeight * g.outWidth, paddedSize = h * wide * g.channels
        let tables = cpuBuffer(allocate(byteCount: (positionCount + g.patchSize) * MemoryLayout<Int>.stride), "conv2dInputGradient")
        let positions = tables.pointer.assumingMemoryBound(to: Int.self), taps = positions + positionCount
        ConvolutionLayout.fillTables(g, images: 1, width: wide, height: h, positions: positions, taps: taps)
        let packedCount = flint_input_gradient_packed_size(g.patchSize, filters, taps)
        let packed = cpuBuffer(allocate(byteCount: max(packedCount, 1) * MemoryLayout<Float>.stride), "conv2dInputGradient")
        flint_input_gradient_pack(g.patchSize, filters, taps, w, packed.floats)
        // Whole images per core: no two cores add into the same element, and each image's sums
        // run in the same order however many cores share the batch. Unpadded, one call takes a
        // core's images; padded, each image is summed into the core's padded copy, then cropped.
        let tasks = Self.inputGradientTasks(g, filters: filters)
        let copies = padded ? cpuBuffer(allocate(byteCount: tasks * paddedSize * MemoryLayout<Float>.stride), "conv2dInputGradient") : nil
        withExtendedLifetime((tables, packed, copies)) {
            Parallel.run(tasks: tasks) { task in
                let images = Parallel.range(task, of: tasks, count: g.batch)
                func sum(_ count: Int, from n: Int, into target: UnsafeMutablePointer<Float>, stride: Int) {
                    target.update(repeating: 0, count: count * stride)
                    flint_input_gradient(count, positionCount, filters, g.patchSize, dy + n * positionCount * filters, positions, taps,
                                         packed.floats, target, stride)
                }
                // ReLU's adjoint of image n, in place, with its column sums.
                func mask(_ n: Int) {
                    guard let relu else { return }
                    let image = dx + n * imageSize
                    flint_relu_gradient_rows(image, relu.output + n * imageSize, g.height * g.width, g.channels, image,
                                             relu.sums + task * g.channels)
                }
                guard let copy = copies?.floats else {
                    guard relu != nil else {
                        return sum(images.count, from: images.lowerBound, into: dx + images.lowerBound * imageSize, stride: imageSize)
                    }
                    for n in images {
                        sum(1, from: n, into: dx + n * imageSize, stride: imageSize)
                        mask(n)
                    }
                    return
                }
                for n in images {
                    sum(1, from: n, into: copy + task * paddedSize, stride: paddedSize)
                    Self.crop(copy + task * paddedSize, height: h, width: wide, geometry: g, into: dx + n * imageSize)
                    mask(n)
                }
            }
        }
    }

    /// The image's part of a padded image's sums (rows and columns no output reaches get zero).
    private static func crop(_ sums: UnsafePointer<Float>, height h: Int, width w: Int, geometry g: ConvGeometry,
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

import CGemm
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
        let work = g.patchCount * g.patchSize * filters
        let tasks = work < 64 * 64 * 64 ? 1 : min(Parallel.cores, g.batch)
        let copies = padded ? cpuBuffer(allocate(byteCount: tasks * paddedSize * MemoryLayout<Float>.stride), "conv2dInputGradient") : nil
        withExtendedLifetime((tables, packed, copies)) {
            Parallel.run(tasks: tasks) { task in
                let images = Parallel.range(task, of: tasks, count: g.batch)
                func sum(_ count: Int, from n: Int, into target: UnsafeMutablePointer<Float>, stride: Int) {
                    target.update(repeating: 0, count: count * stride)
                    flint_input_gradient(count, positionCount, filters, g.patchSize, dy + n * positionCount * filters, positions, taps,
                                         packed.floats, target, stride)
                }
                guard let copy = copies?.floats else {
                    return sum(images.count, from: images.lowerBound, into: dx + images.lowerBound * imageSize, stride: imageSize)
                }
                for n in images {
                    sum(1, from: n, into: copy + task * paddedSize, stride: paddedSize)
                    Self.crop(copy + task * paddedSize, height: h, width: wide, geometry: g, into: dx + n * imageSize)
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

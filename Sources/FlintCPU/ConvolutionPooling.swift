import CGemm
import CVectorMath
import FlintBackend

// Convolution and max pooling in one pass. Each task computes the output rows of a few pooled
// rows into a buffer of its own, which stays in cache, and pools them from there: the
// convolution's output (the Keras convnet's second, 19 MB a batch) is never written to memory
// nor read back. The sums and the winners are those of `conv2d` then `maxPool2d`, bit for bit.

extension CPUBackend {
    public func conv2dMaxPool(_ input: any DeviceBuffer, offset: Int, filter: any DeviceBuffer, filterOffset: Int,
                              geometry g: ConvGeometry, filters: Int, epilogue: GemmEpilogue?, pool: ConvGeometry,
                              out: any DeviceBuffer, taps: any DeviceBuffer) {
        checkGeometry(g, "conv2dMaxPool")
        checkGeometry(pool, "conv2dMaxPool")
        checkPooling(pool, over: g, filters: filters, "CPUBackend.conv2dMaxPool")
        let fused = epilogue.map { split($0, columns: filters, "conv2dMaxPool") }
        guard BlockedGemm.available, Self.convolvesImplicitly(g), Self.poolsInPlace(pool), fused?.after == nil else {
            return composedConv2dMaxPool(input, offset: offset, filter: filter, filterOffset: filterOffset, geometry: g,
                                         filters: filters, epilogue: epilogue, pool: pool, out: out, taps: taps)
        }
        let source = cpuBuffer(input, "conv2dMaxPool"), weights = cpuBuffer(filter, "conv2dMaxPool")
        let values = cpuBuffer(out, "conv2dMaxPool"), winners = cpuBuffer(taps, "conv2dMaxPool")
        checkRange(source, offset: offset, count: g.imageCount, "conv2dMaxPool", "input")
        checkRange(weights, offset: filterOffset, count: g.patchSize * filters, "conv2dMaxPool", "filter")
        checkRange(values, offset: 0, count: pool.patchCount * filters, "conv2dMaxPool", "output")
        checkRange(winners, offset: 0, count: pool.patchCount * filters, "conv2dMaxPool", "taps")
        guard pool.patchCount > 0 else { return }
        let k = g.patchSize
        // B is packed once for every task's many small products.
        let packed = cpuBuffer(allocate(byteCount: max(1, flint_sgemm_packed_size(k, filters)) * 4), "conv2dMaxPool")
        flint_sgemm_pack(k, filters, weights.floats + filterOffset, filters, 1, packed.floats)
        let plan = PoolingChunks(pool, filters: filters)
        let scratch = cpuBuffer(allocate(byteCount: Parallel.cores * plan.scratchFloats * 4), "conv2dMaxPool")
        withExtendedLifetime((packed, scratch)) {
            ConvolutionImage.with(UnsafePointer(source.floats + offset), g, on: self) { image, positions, tapOffsets in
                // Small tasks of chunks, claimed as cores come free: in ranges fixed per core, a
                // core slowed by a neighbour left the other waiting (1.1% of the convnet's step).
                let tasks = min(plan.count, 16 * Parallel.cores)
                Parallel.run(tasks: tasks) { task in
                    let rows = scratch.floats + Parallel.slot * plan.scratchFloats
                    for chunk in Parallel.range(task, of: tasks, count: plan.count) {
                        let (n, pooledRows) = plan.chunk(chunk)
                        let firstRow = pooledRows.lowerBound * pool.strideHeight
                        let convolvedRows = (pooledRows.count - 1) * pool.strideHeight + pool.kernelHeight
                        let call = { (epilogue: UnsafePointer<flint_epilogue>?) in
                            flint_sgemm_gathered_packed(convolvedRows * g.outWidth, filters, k, 1, image,
                                                        positions + (n * g.outHeight + firstRow) * g.outWidth, tapOffsets,
                                                        packed.floats, 0, rows, filters, epilogue)
                        }
                        if var epilogue = fused?.fused { withUnsafePointer(to: &epilogue) { call($0) } } else { call(nil) }
                        Self.maxPoolRows(rows, firstRow: firstRow, pooledRows: pooledRows, image: n, pool: pool,
                                         out: values.floats, taps: winners.ints)
                    }
                }
            }
        }
    }

    /// Image by image, the output gradient is scattered into a task's buffer, which stays in
    /// cache for both gradients that read it: the input's (the same bits as `conv2dInputGradient`)
    /// and the filter's, summed image by image into one partial sum per fixed group of images,
    /// the groups then added in order (so the bits do not depend on the cores). The output
    /// gradient (19 MB a batch in the Keras convnet) is never written to memory nor read back twice.
    public func conv2dMaxPoolBackward(_ gradient: any DeviceBuffer, gradientOffset: Int, taps: any DeviceBuffer, pool: ConvGeometry,
                                      input: any DeviceBuffer, offset: Int, filter: any DeviceBuffer, filterOffset: Int,
                                      geometry g: ConvGeometry, filters: Int, filterGradient: (any DeviceBuffer)?,
                                      inputGradient: (any DeviceBuffer)?, reluOutput: (any DeviceBuffer)?, reluOutputOffset: Int,
                                      sums: (any DeviceBuffer)?) {
        let primitive: StaticString = "conv2dMaxPoolBackward"
        checkGeometry(g, primitive)
        checkGeometry(pool, primitive)
        checkPooling(pool, over: g, filters: filters, "CPUBackend.conv2dMaxPoolBackward")
        // Many small groups, so the cores' shares of them differ by one at most: groups of about
        // 4,096 positions (19 in the Keras convnet's batch) left one of two cores idle for 6% of the step.
        let positionCount = g.outHeight * g.outWidth, size = g.patchSize * filters
        // At most 16 MB of partial sums: a wide filter's gradient takes fewer groups.
        let groupCount = min(Self.poolingGradientGroups, max(2, Self.partialSumFloats / max(1, size)))
        let perGroup = (g.batch + groupCount - 1) / groupCount
        let groups = (g.batch + perGroup - 1) / perGroup
        // Two groups at least, for two cores (else the separate ops split their work their own way).
        guard Self.convolvesImplicitly(g), inputGradient == nil || convolvesInputGradientWithoutColumns(g),
              filters > 0, g.channels > 0, groups >= 2, filterGradient == nil || Self.filterGradientInPlace(g) else {
            return composedConv2dMaxPoolBackward(gradient, gradientOffset: gradientOffset, taps: taps, pool: pool, input: input,
                                                 offset: offset, filter: filter, filterOffset: filterOffset, geometry: g,
                                                 filters: filters, filterGradient: filterGradient, inputGradient: inputGradient,
                                                 reluOutput: reluOutput, reluOutputOffset: reluOutputOffset, sums: sums)
        }
        let pooled = cpuBuffer(gradient, primitive), winners = cpuBuffer(taps, primitive)
        let source = cpuBuffer(input, primitive), weights = cpuBuffer(filter, primitive)
        checkRange(pooled, offset: gradientOffset, count: pool.patchCount * filters, primitive, "gradient")
        checkRange(winners, offset: 0, count: pool.patchCount * filters, primitive, "taps")
        checkRange(source, offset: offset, count: g.imageCount, primitive, "input")
        checkRange(weights, offset: filterOffset, count: g.patchSize * filters, primitive, "filter")
        let imageSize = g.height * g.width * g.channels
        let dw = filterGradient.map { cpuBuffer($0, primitive) }, dx = inputGradient.map { cpuBuffer($0, primitive) }
        let y = reluOutput.map { cpuBuffer($0, primitive) }, totals = sums.map { cpuBuffer($0, primitive) }
        if let dw { checkRange(dw, offset: 0, count: size, primitive, "filterGradient") }
        if let dx { checkRange(dx, offset: 0, count: g.imageCount, primitive, "inputGradient") }
        if let y { checkRange(y, offset: reluOutputOffset, count: g.imageCount, primitive, "reluOutput") }
        if let totals { checkRange(totals, offset: 0, count: g.channels, primitive, "sums") }
        let slots = Parallel.cores, outputSize = positionCount * filters
        let scratch = cpuBuffer(allocate(byteCount: slots * outputSize * 4), primitive)
        let partials = dw.map { _ in cpuBuffer(allocate(byteCount: (groups - 1) * size * 4), primitive) }
        let plan = dx.map { _ in
            InputGradientPlan(self, geometry: g, filters: filters, filter: UnsafePointer(weights.floats + filterOffset), tasks: slots)
        }
        let grad = UnsafePointer(pooled.floats + gradientOffset), tapIn = UnsafePointer(winners.ints)
        // The ReLU's bias sums per group too, added in group order.
        var reluSums = [Double](repeating: 0, count: groups * g.channels)
        reluSums.withUnsafeMutableBufferPointer { reluSums in
            let reluSums = reluSums.baseAddress!
            withExtendedLifetime((scratch, partials, plan)) {
                ConvolutionImage.with(UnsafePointer(source.floats + offset), g, on: self) { image, positions, tapOffsets in
                    // A task a group, claimed as cores come free, each in the buffers of its core's slot.
                    Parallel.run(tasks: groups) { group in
                        let slot = Parallel.slot, dy = scratch.floats + slot * outputSize
                        let images = group * perGroup..<min(g.batch, (group + 1) * perGroup)
                        let sum = dw.map { group == 0 ? $0.floats : partials!.floats + (group - 1) * size }
                        for n in images {
                            for row in 0..<g.outHeight {
                                Self.scatterWinners(inputRow: n * g.outHeight + row, gradient: grad, taps: tapIn, geometry: pool,
                                                    into: dy + row * g.outWidth * filters)
                            }
                            if let sum {
                                flint_filter_gradient_adding(g.patchSize, filters, positionCount, image, positions + n * positionCount,
                                                             tapOffsets, dy, n == images.lowerBound ? 0 : 1, sum)
                            }
                            if let plan, let dx {
                                plan.image(gradient: dy, task: slot, into: dx.floats + n * imageSize,
                                           relu: y.map { (UnsafePointer($0.floats + reluOutputOffset + n * imageSize),
                                                          reluSums + group * g.channels) })
                            }
                        }
                    }
                }
                if let dw, let partials { Self.addPartials(partials.floats, count: groups - 1, size: size, into: dw.floats) }
            }
            if let totals, dx != nil, y != nil {
                Self.addColumnSums(reluSums, parts: groups, channels: g.channels, into: totals.floats)
            }
        }
    }

    /// The most groups of images `conv2dMaxPoolBackward` sums the filter gradient in.
    static let poolingGradientGroups = 64
    /// The most floats of partial filter gradients `conv2dMaxPoolBackward` keeps (16 MB).
    static let partialSumFloats = 1 << 22

    /// Whether `flint_filter_gradient` reads the taps of `g` in place.
    static func filterGradientInPlace(_ g: ConvGeometry) -> Bool {
        withUnsafeTemporaryAllocation(of: Int.self, capacity: g.patchSize) { taps in
            ConvolutionLayout.fillTaps(g, width: ConvolutionLayout.extent(g).width, taps: taps.baseAddress!)
            return flint_filter_gradient_in_place(g.patchSize, taps.baseAddress!) != 0
        }
    }

    /// Whether `conv2dMaxPool` can pool rows as they come: every window inside the image (no
    /// padding) and small enough for `flint_max_window_row`.
    static func poolsInPlace(_ pool: ConvGeometry) -> Bool {
        pool.padTop == 0 && pool.padLeft == 0 && pool.dilationHeight == 1 && pool.dilationWidth == 1
            && pool.kernelHeight * pool.kernelWidth <= Int(FLINT_MAX_WINDOW_ROW_TAPS)
            && (pool.outHeight - 1) * pool.strideHeight + pool.kernelHeight <= pool.height
            && (pool.outWidth - 1) * pool.strideWidth + pool.kernelWidth <= pool.width
    }

    /// `pooledRows` of image `image` from the convolution's rows `firstRow…` in `rows`.
    private static func maxPoolRows(_ rows: UnsafePointer<Float>, firstRow: Int, pooledRows: Range<Int>, image: Int,
                                    pool: ConvGeometry, out: UnsafeMutablePointer<Float>, taps: UnsafeMutablePointer<Int32>) {
        let window = pool.kernelHeight * pool.kernelWidth, c = pool.channels, rowLength = pool.width * c
        withUnsafeTemporaryAllocation(of: UnsafePointer<Float>?.self, capacity: window) { candidates in
            withUnsafeTemporaryAllocation(of: Int32.self, capacity: window) { tapNumbers in
                for row in pooledRows {
                    let top = row * pool.strideHeight - firstRow
                    for kh in 0..<pool.kernelHeight {
                        for kw in 0..<pool.kernelWidth {
                            let tap = kh * pool.kernelWidth + kw
                            candidates[tap] = rows + (top + kh) * rowLength + kw * c
                            tapNumbers[tap] = Int32(tap)
                        }
                    }
                    let at = (image * pool.outHeight + row) * pool.outWidth * c
                    flint_max_window_row(c, pool.outWidth, pool.strideWidth * c, candidates.baseAddress!,
                                         tapNumbers.baseAddress!, window, out + at, taps + at)
                }
            }
        }
    }
}

/// The work of `conv2dMaxPool`: chunks of an image's pooled rows, each few enough that the
/// convolution's rows they read fit a task's buffer in cache, and enough of them for every core.
struct PoolingChunks {
    let pool: ConvGeometry
    /// Pooled rows per chunk, and chunks per image.
    let rowsPerChunk: Int, perImage: Int
    /// The floats of the convolution's rows one chunk reads.
    let scratchFloats: Int

    /// About 256 KB of the convolution's output per chunk: a quarter of a Zen 5 core's L2.
    static let scratchTarget = 1 << 16

    init(_ pool: ConvGeometry, filters: Int) {
        self.pool = pool
        let rowFloats = pool.width * filters
        func span(_ rows: Int) -> Int { ((rows - 1) * pool.strideHeight + pool.kernelHeight) * rowFloats }
        var rows = pool.outHeight
        while rows > 1 && span(rows) > Self.scratchTarget { rows = (rows + 1) / 2 }
        // A small batch still gives each core a few chunks.
        let wanted = 2 * Parallel.cores
        if pool.batch * ((pool.outHeight + rows - 1) / rows) < wanted {
            let perImage = min(pool.outHeight, (wanted + pool.batch - 1) / pool.batch)
            rows = min(rows, (pool.outHeight + perImage - 1) / perImage)
        }
        rowsPerChunk = rows
        perImage = (pool.outHeight + rows - 1) / rows
        scratchFloats = span(rows)
    }

    var count: Int { pool.batch * perImage }

    /// Chunk `index`'s image and pooled rows.
    func chunk(_ index: Int) -> (image: Int, rows: Range<Int>) {
        let image = index / perImage, first = index % perImage * rowsPerChunk
        return (image, first..<min(pool.outHeight, first + rowsPerChunk))
    }
}

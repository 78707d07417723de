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
        ensure(pool.batch == g.batch && pool.height == g.outHeight && pool.width == g.outWidth && pool.channels == filters,
               "CPUBackend.conv2dMaxPool: pooling over \(pool.batch)×\(pool.height)×\(pool.width)×\(pool.channels), "
                   + "but the convolution gives \(g.batch)×\(g.outHeight)×\(g.outWidth)×\(filters)")
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
        let tasks = min(Parallel.cores, plan.count)
        let scratch = cpuBuffer(allocate(byteCount: tasks * plan.scratchFloats * 4), "conv2dMaxPool")
        withExtendedLifetime((packed, scratch)) {
            ConvolutionImage.with(UnsafePointer(source.floats + offset), g, on: self) { image, positions, tapOffsets in
                Parallel.run(tasks: tasks) { task in
                    let rows = scratch.floats + task * plan.scratchFloats
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

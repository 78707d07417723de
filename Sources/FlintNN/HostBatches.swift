import FlintCore

/// Samples kept on the host, cut into device batches on demand: one upload per batch, as a
/// data loader does. Rows are gathered in the order given, so shuffling costs no device work.
struct HostSamples {
    let sampleShape: [Int]
    let dtype: DType
    let rowSize: Int
    let count: Int
    private let floats: [Float]
    private let ints: [Int32]

    init(_ tensor: Tensor) {
        ensure(tensor.rank >= 1, "data must have a batch axis, got shape \(tensor.shape)")
        sampleShape = Array(tensor.shape.dropFirst())
        dtype = tensor.dtype
        count = tensor.shape[0]
        rowSize = sampleShape.reduce(1, *)
        floats = dtype == .float32 ? tensor.toArray() : []
        ints = dtype == .int32 ? tensor.toInt32Array() : []
    }

    /// The rows `indices` as one tensor of shape `[indices.count] + sampleShape` on `device`.
    func batch(_ indices: ArraySlice<Int>, on device: Device) -> Tensor {
        let shape = [indices.count] + sampleShape
        switch dtype {
        case .float32: return Tensor(gather(floats, indices), shape: shape, on: device)
        case .int32: return Tensor(int32: gather(ints, indices), shape: shape, on: device)
        }
    }

    private func gather<T>(_ source: [T], _ indices: ArraySlice<Int>) -> [T] {
        var out: [T] = []
        out.reserveCapacity(indices.count * rowSize)
        source.withUnsafeBufferPointer { base in
            for i in indices { out.append(contentsOf: base[(i * rowSize)..<((i + 1) * rowSize)]) }
        }
        return out
    }
}

/// A seeded shuffle (SplitMix64 + Fisher–Yates), reproducible across runs and devices.
struct Shuffler {
    private var state: UInt64

    init(seed: UInt64) { state = seed ^ 0x5DEE_CE66_D1CE_4E5B }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    mutating func permutation(_ count: Int) -> [Int] {
        var order = Array(0..<count)
        for i in stride(from: count - 1, to: 0, by: -1) {
            order.swapAt(i, Int(next() % UInt64(i + 1)))
        }
        return order
    }
}

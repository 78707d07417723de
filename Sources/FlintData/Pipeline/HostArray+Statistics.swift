extension HostArray {
    /// Mean and population standard deviation of every element, computed in Double (exactly, by
    /// a histogram, for bytes): what standardising inputs needs, from the stored values.
    public func meanAndStandardDeviation() -> (mean: Double, standardDeviation: Double) {
        var moments = Moments()
        moments.add(self)
        return moments.result
    }
}

/// Running sums for a mean and standard deviation over arrays seen one after another (a file
/// read in chunks).
struct Moments {
    private var byteHistogram = [Int](repeating: 0, count: 256)
    private var signedBytes = false
    private var sum = 0.0, squares = 0.0, count = 0

    mutating func add(_ array: HostArray) {
        count += array.count
        array.withUnsafeBytes { bytes in
            switch array.type {
            case .uint8, .int8:
                signedBytes = array.type == .int8
                // Four interleaved histograms: runs of equal bytes (MNIST's zeros) would otherwise
                // wait on the previous increment of the same counter.
                var lanes = [Int](repeating: 0, count: 1024)
                lanes.withUnsafeMutableBufferPointer { lane in
                    let quads = bytes.count / 4
                    for i in 0..<quads {
                        lane[Int(bytes[4 * i])] &+= 1
                        lane[256 + Int(bytes[4 * i + 1])] &+= 1
                        lane[512 + Int(bytes[4 * i + 2])] &+= 1
                        lane[768 + Int(bytes[4 * i + 3])] &+= 1
                    }
                    for i in (4 * quads)..<bytes.count { lane[Int(bytes[i])] &+= 1 }
                }
                for v in 0..<256 { byteHistogram[v] += lanes[v] + lanes[256 + v] + lanes[512 + v] + lanes[768 + v] }
            case .int32, .float32:
                for i in 0..<array.count {
                    let value = array.type == .int32 ? Double(bytes.loadUnaligned(fromByteOffset: 4 * i, as: Int32.self))
                        : Double(bytes.loadUnaligned(fromByteOffset: 4 * i, as: Float.self))
                    sum += value
                    squares += value * value
                }
            }
        }
    }

    var result: (mean: Double, standardDeviation: Double) {
        guard count > 0 else { return (.nan, .nan) }
        var sum = self.sum, squares = self.squares
        for (pattern, n) in byteHistogram.enumerated() where n > 0 {
            let value = signedBytes ? Double(Int8(truncatingIfNeeded: pattern)) : Double(pattern)
            sum += value * Double(n)
            squares += value * value * Double(n)
        }
        let mean = sum / Double(count)
        return (mean, Swift.max(squares / Double(count) - mean * mean, 0).squareRoot())
    }
}

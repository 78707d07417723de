import Flint
import Foundation
import Testing

/// Gradient checks: the analytic gradient Flint's autograd computes (float32, on each device)
/// against central finite differences of the Float64 reference of the same function.
/// The checked scalar is `Σ f(x) ⊙ w` with fixed random weights `w`, so every output element
/// carries a different upstream gradient.
extension Conformance {
    struct GradCase: Sendable, CustomStringConvertible {
        let name: String
        let shapes: [[Int]]
        var domain: (Double, Double) = (-2, 2)
        let flint: @Sendable ([Tensor]) -> Tensor
        let reference: @Sendable ([Ref]) -> Ref
        /// Inputs that take no gradient (a mask, indices) are listed here and not checked.
        var constantInputs: Set<Int> = []
        /// Relative and absolute tolerance: 2e-5 catches a 1% error in any derivative; a case
        /// that needs more says so here, with the reason.
        var tolerance: Double = 2e-5
        var description: String { name }
    }

    /// Float64 `[h' | c']` of an LSTM step over 3 rows of 3 units (inputs: input, recurrent, cell).
    static func lstmReference(_ refs: [Ref]) -> Ref {
        func sigmoid(_ x: Double) -> Double { 1 / (1 + Foundation.exp(-x)) }
        var out: [Double] = []
        for b in 0..<3 {
            var h: [Double] = [], c: [Double] = []
            for j in 0..<3 {
                var z: [Double] = []
                for k in 0..<4 { z.append(refs[0].data[b * 12 + k * 3 + j] + refs[1].data[b * 12 + k * 3 + j]) }
                let cell = sigmoid(z[1]) * refs[2].data[b * 3 + j] + sigmoid(z[0]) * Foundation.tanh(z[2])
                h.append(sigmoid(z[3]) * Foundation.tanh(cell))
                c.append(cell)
            }
            out += h + c
        }
        return Ref(shape: [3, 6], data: out)
    }

    /// Float64 input projection `x · w + b` of a time-major `[steps, batch, features]` input.
    static func projectionReference(_ x: Ref, _ w: Ref, _ b: Ref?) -> Ref {
        let (rows, features, wide) = (x.shape[0] * x.shape[1], x.shape[2], w.shape[1])
        var data = [Double](repeating: 0, count: rows * wide)
        for row in 0..<rows {
            for k in 0..<wide {
                var sum: Double = b?.data[k] ?? 0
                for f in 0..<features { sum += x.data[row * features + f] * w.data[f * wide + k] }
                data[row * wide + k] = sum
            }
        }
        return Ref(shape: [x.shape[0], x.shape[1], wide], data: data)
    }

    /// Float64 `[h_t | c_t]` of every step of an LSTM over a sequence (inputs: the time-major
    /// projection `[steps, batch, 4·units]`, the recurrent kernel, the initial h and c).
    static func lstmSequenceReference(_ refs: [Ref]) -> Ref {
        let (steps, batch, units) = (refs[0].shape[0], refs[0].shape[1], refs[2].shape[1])
        let wide = 4 * units
        func sigmoid(_ x: Double) -> Double { 1 / (1 + Foundation.exp(-x)) }
        var h = refs[2].data, c = refs[3].data, out: [Double] = []
        for t in 0..<steps {
            var nextH = h, nextC = c
            for b in 0..<batch {
                for j in 0..<units {
                    let z = (0..<4).map { k in
                        (0..<units).reduce(refs[0].data[(t * batch + b) * wide + k * units + j]) {
                            $0 + h[b * units + $1] * refs[1].data[$1 * wide + k * units + j]
                        }
                    }
                    nextC[b * units + j] = sigmoid(z[1]) * c[b * units + j] + sigmoid(z[0]) * Foundation.tanh(z[2])
                    nextH[b * units + j] = sigmoid(z[3]) * Foundation.tanh(nextC[b * units + j])
                }
                out += (0..<units).map { nextH[b * units + $0] } + (0..<units).map { nextC[b * units + $0] }
            }
            (h, c) = (nextH, nextC)
        }
        return Ref(shape: [steps, batch, 2 * units], data: out)
    }

    /// Columns `range` of a two-dimensional reference.
    static func columns(_ matrix: Ref, _ range: Range<Int>) -> Ref {
        let width = matrix.shape[1]
        return Ref(shape: [matrix.shape[0], range.count], data: (0..<matrix.shape[0]).flatMap { r in range.map { matrix.data[r * width + $0] } })
    }

    static func unaryGrad(_ name: String, domain: (Double, Double) = (-2, 2), _ f: @escaping @Sendable (Tensor) -> Tensor,
                          _ r: @escaping @Sendable (Double) -> Double) -> GradCase {
        GradCase(name: name, shapes: [[3, 5]], domain: domain, flint: { f($0[0]) }, reference: { $0[0].map(r) })
    }

    static func binaryGrad(_ name: String, _ a: [Int], _ b: [Int], domain: (Double, Double) = (-2, 2),
                           _ f: @escaping @Sendable (Tensor, Tensor) -> Tensor,
                           _ r: @escaping @Sendable (Double, Double) -> Double) -> GradCase {
        GradCase(name: name, shapes: [a, b], domain: domain, flint: { f($0[0], $0[1]) }, reference: { Ref.zip($0[0], $0[1], r) })
    }

    static let gradCases: [GradCase] = [
        unaryGrad("neg", { -$0 }, { -$0 }),
        unaryGrad("abs", { $0.abs() }, { Swift.abs($0) }),
        unaryGrad("exp", { $0.exp() }, { Foundation.exp($0) }),
        unaryGrad("log", domain: (0.2, 3), { $0.log() }, { Foundation.log($0) }),
        unaryGrad("sqrt", domain: (0.2, 3), { $0.sqrt() }, { $0.squareRoot() }),
        unaryGrad("rsqrt", domain: (0.3, 3), { $0.rsqrt() }, { 1 / $0.squareRoot() }),
        unaryGrad("square", { $0.square() }, { $0 * $0 }),
        unaryGrad("reciprocal", domain: (0.3, 3), { $0.reciprocal() }, { 1 / $0 }),
        unaryGrad("relu", { $0.relu() }, { Swift.max($0, 0) }),
        unaryGrad("leakyRelu", { $0.leakyRelu(slope: 0.1) }, { $0 > 0 ? $0 : 0.1 * $0 }),
        unaryGrad("sigmoid", { $0.sigmoid() }, { 1 / (1 + Foundation.exp(-$0)) }),
        unaryGrad("tanh", { $0.tanh() }, { Foundation.tanh($0) }),
        unaryGrad("pow(3)", { $0.pow(3) }, { $0 * $0 * $0 }),
        unaryGrad("clamp", { $0.clamped(min: -1, max: 1) }, { Swift.min(Swift.max($0, -1), 1) }),
        unaryGrad("erf", { $0.erf() }, { Foundation.erf($0) }),
        unaryGrad("softplus", domain: (-4, 4), { $0.softplus() }, { Foundation.log1p(Foundation.exp($0)) }),
        unaryGrad("gelu", domain: (-3, 3), { $0.gelu() }, { 0.5 * $0 * (1 + Foundation.erf($0 / 2.0.squareRoot())) }),
        unaryGrad("silu", domain: (-4, 4), { $0.silu() }, { $0 / (1 + Foundation.exp(-$0)) }),
        unaryGrad("affine", { 2 - $0 * 3 + 1 }, { 2 - $0 * 3 + 1 }),
        unaryGrad("x/4", { $0 / 4 }, { $0 / 4 }),
        binaryGrad("add (broadcast)", [3, 4], [4], { $0 + $1 }, { $0 + $1 }),
        binaryGrad("sub (broadcast both)", [3, 1], [1, 4], { $0 - $1 }, { $0 - $1 }),
        binaryGrad("mul (broadcast)", [2, 1, 3], [4, 1], { $0 * $1 }, { $0 * $1 }),
        binaryGrad("div", [3, 4], [3, 4], domain: (0.5, 2), { $0 / $1 }, { $0 / $1 }),
        binaryGrad("add+relu (fused)", [3, 4], [4], { $0.adding($1, then: .relu) }, { Swift.max($0 + $1, 0) }),
        binaryGrad("add+sigmoid (fused)", [3, 4], [4], { $0.adding($1, then: .sigmoid) }, { 1 / (1 + Foundation.exp(-($0 + $1))) }),
        binaryGrad("add+tanh (fused)", [2, 3], [2, 3], { $0.adding($1, then: .tanh) }, { Foundation.tanh($0 + $1) }),
        binaryGrad("add+leakyRelu (fused)", [3, 4], [1, 4], { $0.adding($1, then: .leakyRelu(slope: 0.2)) },
                   { $0 + $1 > 0 ? $0 + $1 : 0.2 * ($0 + $1) }),
        binaryGrad("pow", [3, 4], [4], domain: (0.5, 2), { $0.pow($1) }, { Foundation.pow($0, $1) }),
        binaryGrad("maximum", [3, 4], [3, 4], { $0.maximum($1) }, { Swift.max($0, $1) }),
        binaryGrad("minimum", [3, 4], [1, 4], { $0.minimum($1) }, { Swift.min($0, $1) }),
        GradCase(name: "where", shapes: [[3, 4], [3, 4], [4]],
                 flint: { Tensor.where($0[0] .> 0, $0[1], $0[2]) },
                 reference: { Ref.zip3($0[0], $0[1], $0[2]) { c, a, b in c > 0 ? a : b } }, constantInputs: [0]),
        GradCase(name: "sum(axis 1)", shapes: [[3, 4, 2]], flint: { $0[0].sum(axis: 1) },
                 reference: { $0[0].reduced(axes: [1], keepDims: false) { $0.reduce(0, +) } }),
        GradCase(name: "sum(all)", shapes: [[3, 4]], flint: { $0[0].sum() },
                 reference: { $0[0].reduced(axes: [0, 1], keepDims: false) { $0.reduce(0, +) } }),
        GradCase(name: "mean(axes 0,2, keepDims)", shapes: [[3, 4, 2]], flint: { $0[0].mean(axes: [0, 2], keepDims: true) },
                 reference: { $0[0].reduced(axes: [0, 2], keepDims: true) { $0.reduce(0, +) / Double($0.count) } }),
        GradCase(name: "max(axis 0)", shapes: [[4, 3]], flint: { $0[0].max(axis: 0) },
                 reference: { $0[0].reduced(axes: [0], keepDims: false) { $0.max()! } }),
        GradCase(name: "min(axis 1)", shapes: [[4, 3]], flint: { $0[0].min(axis: 1) },
                 reference: { $0[0].reduced(axes: [1], keepDims: false) { $0.min()! } }),
        GradCase(name: "matmul", shapes: [[3, 4], [4, 5]], flint: { $0[0].matmul($0[1]) },
                 reference: { Matmul.reference($0[0], $0[1]).0 }),
        GradCase(name: "matmul (batched, broadcast)", shapes: [[2, 3, 4], [4, 2]], flint: { $0[0].matmul($0[1]) },
                 reference: { Matmul.reference($0[0], $0[1]).0 }),
        GradCase(name: "matmul (transposed)", shapes: [[4, 3], [5, 4]],
                 flint: { $0[0].matmul($0[1], transposeSelf: true, transposeOther: true) },
                 reference: { Matmul.reference($0[0].permuted([1, 0]), $0[1].permuted([1, 0])).0 }),
        GradCase(name: "matmul+bias+relu (a layer's fused epilogue)", shapes: [[3, 4], [4, 5], [5]],
                 flint: { $0[0].matmul($0[1], adding: $0[2], then: .relu) },
                 reference: { Ref.zip(Matmul.reference($0[0], $0[1]).0, $0[2]) { Swift.max($0 + $1, 0) } }),
        GradCase(name: "matmul+bias+tanh (rank 3, fused epilogue)", shapes: [[2, 3, 4], [4, 5], [5]],
                 flint: { $0[0].matmul($0[1], adding: $0[2], then: .tanh) },
                 reference: { Ref.zip(Matmul.reference($0[0], $0[1]).0, $0[2]) { Foundation.tanh($0 + $1) } }),
        GradCase(name: "matmul+sigmoid (no bias, fused epilogue)", shapes: [[3, 4], [4, 5]],
                 flint: { $0[0].matmul($0[1], adding: nil, then: .sigmoid) },
                 reference: { Matmul.reference($0[0], $0[1]).0.map { 1 / (1 + Foundation.exp(-$0)) } }),
        GradCase(name: "matmul (vector)", shapes: [[3, 4], [4]], flint: { $0[0].matmul($0[1]) },
                 reference: { Ref(shape: [3], data: Matmul.reference($0[0], Ref(shape: [4, 1], data: $0[1].data)).0.data) }),
        GradCase(name: "softmax", shapes: [[3, 5]], flint: { $0[0].softmax(axis: 1) },
                 reference: { AxisOps.softmaxReference($0[0], axis: 1, log: false) }),
        GradCase(name: "logSoftmax(axis 0)", shapes: [[4, 3]], flint: { $0[0].logSoftmax(axis: 0) },
                 reference: { AxisOps.softmaxReference($0[0], axis: 0, log: true) }),
        GradCase(name: "gather", shapes: [[4, 5]],
                 flint: { $0[0].gather(axis: 1, indices: Tensor(int32: [0, 4, 4, 1, 2, 2, 3, 0], shape: [4, 2], on: $0[0].device)) },
                 reference: { refs in
                     let x = refs[0]
                     let idx = [0, 4, 4, 1, 2, 2, 3, 0]
                     let data: [Double] = (0..<8).map { (i: Int) -> Double in x.data[(i / 2) * 5 + idx[i]] }
                     return Ref(shape: [4, 2], data: data)
                 }),
        GradCase(name: "scatterAdd", shapes: [[3, 4], [3, 2]],
                 flint: { $0[0].scatterAdd(axis: 1, indices: Tensor(int32: [1, 1, 0, 3, 2, 0], shape: [3, 2], on: $0[0].device), source: $0[1]) },
                 reference: { refs in
                     let idx = [1, 1, 0, 3, 2, 0]
                     var out = refs[0]
                     for i in 0..<6 { out.data[(i / 2) * 4 + idx[i]] += refs[1].data[i] }
                     return out
                 }),
        GradCase(name: "indexSelect", shapes: [[5, 3]],
                 flint: { $0[0].indexSelect(axis: 0, indices: Tensor(int32: [4, 0, 4], shape: [3], on: $0[0].device)) },
                 reference: { refs in
                     let x = refs[0]
                     let rows: [Int] = [4, 0, 4]
                     let data: [Double] = rows.flatMap { (r: Int) -> [Double] in (0..<3).map { (c: Int) -> Double in x.data[r * 3 + c] } }
                     return Ref(shape: [3, 3], data: data)
                 }),
        GradCase(name: "slice + select", shapes: [[4, 5]], flint: { $0[0].slice(axis: 1, 1..<4).select(index: 2, axis: 0) },
                 reference: { refs in Ref(shape: [3], data: (1..<4).map { (c: Int) -> Double in refs[0].data[2 * 5 + c] }) }),
        // Gradients of several regions of one tensor are assembled once (PendingGradient):
        // disjoint slices with gaps, plus a use of the whole tensor.
        GradCase(name: "disjoint slices + whole", shapes: [[3, 5]],
                 flint: { x in
                     let parts = x[0].slice(axis: 1, 0..<2) * 2 + x[0].slice(axis: 1, 3..<5).square()
                     return Tensor.concatenate([parts.reshaped(to: [-1]), x[0].reshaped(to: [-1]).exp()], axis: 0)
                 },
                 reference: { refs in
                     let x = refs[0].data
                     var parts: [Double] = []
                     for r in 0..<3 {
                         for c in 0..<2 { parts.append(x[r * 5 + c] * 2 + x[r * 5 + 3 + c] * x[r * 5 + 3 + c]) }
                     }
                     return Ref(shape: [21], data: parts + x.map(Foundation.exp))
                 }),
        // Overlapping slices and selects along both axes: the padded sum.
        GradCase(name: "overlapping slices + selects", shapes: [[3, 5]],
                 flint: { x in
                     x[0].slice(axis: 1, 0..<3) * x[0].slice(axis: 1, 2..<5) + x[0].select(index: 1, axis: 1).unsqueezed(axis: 1)
                         + x[0].select(index: 2, axis: 0).slice(axis: 0, 1..<4)
                 },
                 reference: { refs in
                     let x = refs[0].data
                     var y: [Double] = []
                     for r in 0..<3 {
                         for c in 0..<3 { y.append(x[r * 5 + c] * x[r * 5 + c + 2] + x[r * 5 + 1] + x[10 + 1 + c]) }
                     }
                     return Ref(shape: [3, 3], data: y)
                 }),
        // Every timestep of a sequence selected: the gradient is one concatenation.
        GradCase(name: "select every step", shapes: [[4, 2, 3]],
                 flint: { x in (0..<4).map { x[0].select(index: $0, axis: 0) * Float($0 + 1) }.reduce(x[0].select(index: 0, axis: 0), +) },
                 reference: { refs in
                     let x = refs[0].data
                     var y = Array(x[0..<6])
                     for t in 0..<4 {
                         for i in 0..<6 { y[i] += x[t * 6 + i] * Double(t + 1) }
                     }
                     return Ref(shape: [2, 3], data: y)
                 }),
        // The fused LSTM step: [h' | c'] from z = input + recurrent and the cell state.
        GradCase(name: "lstmCell", shapes: [[3, 12], [3, 12], [3, 3]],
                 flint: { Tensor.lstmCell(input: $0[0], recurrent: $0[1], cell: $0[2]) },
                 reference: { lstmReference($0) }),
        // Used through its two halves, as an LSTM does: their gradients reach the kernel unassembled
        // (both, h alone with c's a broadcast zero, c alone), and an odd slice takes the assembled path.
        GradCase(name: "lstmCell, h and c sliced", shapes: [[3, 12], [3, 12], [3, 3]],
                 flint: { x in
                     let out = Tensor.lstmCell(input: x[0], recurrent: x[1], cell: x[2])
                     return Tensor.concatenate([out.slice(axis: 1, 3..<6).tanh(), out.slice(axis: 1, 0..<3) * 2], axis: 1)
                 },
                 reference: { refs in
                     let out = lstmReference(refs)
                     return Ref(shape: [3, 6], data: (0..<3).flatMap { b in
                         (3..<6).map { Foundation.tanh(out.data[b * 6 + $0]) } + (0..<3).map { 2 * out.data[b * 6 + $0] }
                     })
                 }),
        GradCase(name: "lstmCell, h alone", shapes: [[3, 12], [3, 12], [3, 3]],
                 flint: { Tensor.lstmCell(input: $0[0], recurrent: $0[1], cell: $0[2]).slice(axis: 1, 0..<3) },
                 reference: { refs in columns(lstmReference(refs), 0..<3) }),
        GradCase(name: "lstmCell, c alone", shapes: [[3, 12], [3, 12], [3, 3]],
                 flint: { Tensor.lstmCell(input: $0[0], recurrent: $0[1], cell: $0[2]).slice(axis: 1, 3..<6) },
                 reference: { refs in columns(lstmReference(refs), 3..<6) }),
        GradCase(name: "lstmCell, a slice across both halves", shapes: [[3, 12], [3, 12], [3, 3]],
                 flint: { Tensor.lstmCell(input: $0[0], recurrent: $0[1], cell: $0[2]).slice(axis: 1, 1..<5) },
                 reference: { refs in columns(lstmReference(refs), 1..<5) }),
        // A whole sequence as one op: batches of 8 or more take the CPU's bands of rows, fewer its
        // step-by-step default; used whole, or only through the last step's h (the rest zero).
        GradCase(name: "lstmSequence", shapes: [[3, 8, 8], [2, 8], [8, 2], [8, 2]], domain: (-1.5, 1.5),
                 flint: { Tensor.lstmSequence(projection: $0[0], recurrentKernel: $0[1], hidden: $0[2], cell: $0[3]) },
                 reference: { lstmSequenceReference($0) }),
        GradCase(name: "lstmSequence, last h", shapes: [[4, 9, 12], [3, 12], [9, 3], [9, 3]], domain: (-1.5, 1.5),
                 flint: {
                     Tensor.lstmSequence(projection: $0[0], recurrentKernel: $0[1], hidden: $0[2], cell: $0[3])
                         .select(index: 3, axis: 0).slice(axis: 1, 0..<3)
                 },
                 reference: { refs in
                     let all = lstmSequenceReference(refs)
                     return Ref(shape: [9, 3], data: (0..<9).flatMap { b in (0..<3).map { all.data[(3 * 9 + b) * 6 + $0] } })
                 }),
        // The trailing steps' gradient alone (the earlier ones are not stored), and a middle
        // step's (the steps after it zero: assembled whole).
        GradCase(name: "lstmSequence, last two steps", shapes: [[4, 9, 12], [3, 12], [9, 3], [9, 3]], domain: (-1.5, 1.5),
                 flint: {
                     Tensor.lstmSequence(projection: $0[0], recurrentKernel: $0[1], hidden: $0[2], cell: $0[3]).slice(axis: 0, 2..<4)
                 },
                 reference: { refs in
                     let all = lstmSequenceReference(refs)
                     return Ref(shape: [2, 9, 6], data: Array(all.data[(2 * 9 * 6)...]))
                 }),
        GradCase(name: "lstmSequence, a middle step", shapes: [[4, 9, 12], [3, 12], [9, 3], [9, 3]], domain: (-1.5, 1.5),
                 flint: {
                     Tensor.lstmSequence(projection: $0[0], recurrentKernel: $0[1], hidden: $0[2], cell: $0[3]).select(index: 1, axis: 0)
                 },
                 reference: { refs in
                     let all = lstmSequenceReference(refs)
                     return Ref(shape: [9, 6], data: Array(all.data[(9 * 6)..<(2 * 9 * 6)]))
                 }),
        // With the input projection inside: x · W + b made in Float64 first (the input's gradient
        // too, as for a stacked LSTM's second layer); without a bias; a small batch (the default).
        GradCase(name: "lstmSequence from inputs", shapes: [[3, 8, 4], [4, 8], [8], [2, 8], [8, 2], [8, 2]], domain: (-1.5, 1.5),
                 flint: {
                     Tensor.lstmSequence(input: $0[0], inputKernel: $0[1], bias: $0[2], recurrentKernel: $0[3], hidden: $0[4], cell: $0[5])
                 },
                 reference: { refs in lstmSequenceReference([projectionReference(refs[0], refs[1], refs[2])] + Array(refs[3...])) }),
        GradCase(name: "lstmSequence from inputs, no bias, last h", shapes: [[4, 9, 3], [3, 12], [3, 12], [9, 3], [9, 3]],
                 domain: (-1.5, 1.5),
                 flint: {
                     Tensor.lstmSequence(input: $0[0], inputKernel: $0[1], bias: nil, recurrentKernel: $0[2], hidden: $0[3], cell: $0[4])
                         .select(index: 3, axis: 0).slice(axis: 1, 0..<3)
                 },
                 reference: { refs in
                     let all = lstmSequenceReference([projectionReference(refs[0], refs[1], nil)] + Array(refs[2...]))
                     return Ref(shape: [9, 3], data: (0..<9).flatMap { b in (0..<3).map { all.data[(3 * 9 + b) * 6 + $0] } })
                 }),
        GradCase(name: "lstmSequence from inputs, small batch", shapes: [[2, 3, 2], [2, 8], [8], [2, 8], [3, 2], [3, 2]],
                 domain: (-1.5, 1.5),
                 flint: {
                     Tensor.lstmSequence(input: $0[0], inputKernel: $0[1], bias: $0[2], recurrentKernel: $0[3], hidden: $0[4], cell: $0[5])
                 },
                 reference: { refs in lstmSequenceReference([projectionReference(refs[0], refs[1], refs[2])] + Array(refs[3...])) }),
        // Bands of 16 rows and more (batch 48 on up to three cores) sum the weights' gradients step
        // by step: with the input's gradient (the projection's gradient stored), and without it (a
        // ring of two steps per band, the steps in pairs; three steps leave the first alone).
        GradCase(name: "lstmSequence from inputs, bands of 16", shapes: [[3, 48, 3], [3, 8], [8], [2, 8], [48, 2], [48, 2]],
                 domain: (-1.5, 1.5),
                 flint: {
                     Tensor.lstmSequence(input: $0[0], inputKernel: $0[1], bias: $0[2], recurrentKernel: $0[3], hidden: $0[4], cell: $0[5])
                 },
                 reference: { refs in lstmSequenceReference([projectionReference(refs[0], refs[1], refs[2])] + Array(refs[3...])) }),
        GradCase(name: "lstmSequence from inputs, bands of 16, constant input", shapes: [[3, 48, 3], [3, 8], [8], [2, 8], [48, 2], [48, 2]],
                 domain: (-1.5, 1.5),
                 flint: {
                     Tensor.lstmSequence(input: $0[0].detached(), inputKernel: $0[1], bias: $0[2], recurrentKernel: $0[3], hidden: $0[4],
                                         cell: $0[5])
                 },
                 reference: { refs in lstmSequenceReference([projectionReference(refs[0], refs[1], refs[2])] + Array(refs[3...])) },
                 constantInputs: [0]),
        GradCase(name: "lstmSequence, small batch", shapes: [[2, 3, 8], [2, 8], [3, 2], [3, 2]], domain: (-1.5, 1.5),
                 flint: { Tensor.lstmSequence(projection: $0[0], recurrentKernel: $0[1], hidden: $0[2], cell: $0[3]) },
                 reference: { lstmSequenceReference($0) }),
        // One weight in three products (a recurrent kernel's use): its gradient is one stacked product.
        GradCase(name: "matmul, weight used three times", shapes: [[2, 3], [3, 4], [4, 3]],
                 flint: { x in
                     let w = x[1]
                     let h = (x[0].matmul(w)).tanh()
                     return (x[0].matmul(w) + h.matmul(x[2]).matmul(w)).sigmoid()
                 },
                 reference: { refs in
                     let (x, w, u) = (refs[0], refs[1], refs[2])
                     let xw = Matmul.reference(x, w).0
                     let hw = Matmul.reference(Matmul.reference(xw.map(Foundation.tanh), u).0, w).0
                     return Ref.zip(xw, hw) { 1 / (1 + Foundation.exp(-($0 + $1))) }
                 }),
        GradCase(name: "permute + reshape", shapes: [[2, 3, 4]], flint: { $0[0].permuted([2, 0, 1]).reshaped(to: [4, 6]) },
                 reference: { refs in Ref(shape: [4, 6], data: refs[0].permuted([2, 0, 1]).data) }),
        GradCase(name: "expand + squeeze", shapes: [[3, 1]], flint: { $0[0].expanded(to: [2, 3, 4]).unsqueezed(axis: 0).squeezed(axis: 0) },
                 reference: { refs in Ref.zip(refs[0], Ref(shape: [2, 3, 4], data: Array(repeating: 0, count: 24))) { a, _ in a } }),
        GradCase(name: "concatenate", shapes: [[2, 3], [2, 2]], flint: { Tensor.concatenate([$0[0], $0[1].exp()], axis: 1) },
                 reference: { refs in
                     let e = refs[1].map(Foundation.exp)
                     var data: [Double] = []
                     for r in 0..<2 {
                         data.append(contentsOf: refs[0].data[(r * 3)..<(r * 3 + 3)])
                         data.append(contentsOf: e.data[(r * 2)..<(r * 2 + 2)])
                     }
                     return Ref(shape: [2, 5], data: data)
                 }),
        GradCase(name: "composite (dense + softmax cross-entropy)", shapes: [[4, 3], [3, 5], [5]],
                 flint: { -($0[0].matmul($0[1]) + $0[2]).tanh().logSoftmax(axis: 1).mean() },
                 reference: { refs in
                     let z = Ref.zip(Matmul.reference(refs[0], refs[1]).0, refs[2], +).map(Foundation.tanh)
                     let l = AxisOps.softmaxReference(z, axis: 1, log: true)
                     return Ref(shape: [], data: [-l.data.reduce(0, +) / Double(l.count)])
                 }),
    ]

    @Suite struct Gradients {
        @Test(arguments: TestDevices.all, Conformance.gradCases)
        func gradientMatchesFiniteDifferences(device: Device, op: GradCase) {
            Self.check(op, on: device)
        }

        /// Compares autograd's gradient of `Σ op(x) ⊙ w` with central differences of the reference.
        static func check(_ op: GradCase, on device: Device, sourceLocation: SourceLocation = #_sourceLocation) {
            var rng = TestRNG(seed: 141)
            let inputs = op.shapes.map { makeInput($0, range: op.domain, rng: &rng, on: device) }
            let refs = inputs.map(\.1)
            let outputRef = op.reference(refs)
            let weights = Ref(rng.floats(outputRef.count, -1, 1), shape: outputRef.shape)

            let leaves = inputs.map { $0.0.requiringGrad() }
            let output = op.flint(leaves)
            #expect(output.shape == outputRef.shape, "\(op.name): output shape \(output.shape) vs \(outputRef.shape)",
                    sourceLocation: sourceLocation)
            (output * Tensor(weights.data.map(Float.init), shape: weights.shape, on: device)).sum().backward()

            func loss(_ refs: [Ref]) -> Double { Swift.zip(op.reference(refs).data, weights.data).reduce(0) { $0 + $1.0 * $1.1 } }
            let h = 1e-6
            for (i, leaf) in leaves.enumerated() where !op.constantInputs.contains(i) {
                var numeric = refs[i]
                for j in 0..<refs[i].count {
                    var plus = refs, minus = refs
                    plus[i].data[j] += h
                    minus[i].data[j] -= h
                    numeric.data[j] = (loss(plus) - loss(minus)) / (2 * h)
                }
                guard let grad = leaf.grad else {
                    Issue.record("\(op.name) on \(device): no gradient reached input \(i)", sourceLocation: sourceLocation)
                    continue
                }
                expectClose(grad, numeric, rtol: op.tolerance, atol: op.tolerance, "gradient of \(op.name) w.r.t. input \(i) on \(device)",
                            sourceLocation: sourceLocation)
            }
        }
    }
}

@Suite struct AutogradBehaviour {
    @Test func gradientsAccumulateAndReset() {
        let x = Tensor([1, 2, 3], shape: [3], on: .cpu).requiringGrad()
        (x * x).sum().backward()
        (x * 3).sum().backward()
        #expect(x.grad?.toArray() == [5, 7, 9])
        x.zeroGrad()
        #expect(x.grad == nil)
    }

    @Test func sharedSubexpressionsSumTheirPaths() {
        let x = Tensor([2], shape: [1], on: .cpu).requiringGrad()
        let y = x * x
        (y + y * x).sum().backward()  // d/dx (x² + x³) = 2x + 3x² = 16
        #expect(x.grad?.toArray() == [16])
    }

    @Test func noGradScopeRecordsNothing() {
        let x = Tensor([1, 2], shape: [2], on: .cpu).requiringGrad()
        let y = Tensor.withoutGrad { x * 2 }
        #expect(!y.requiresGrad && (x * 2).requiresGrad && !x.detached().requiresGrad)
    }

    @Test(.enabled(if: !TestDevices.openCL.isEmpty || TestDevices.openCLRequired, "no OpenCL device (FLINT_REQUIRE_OPENCL=1 fails instead)"))
    func gradientsCrossDevices() throws {
        let gpu = try #require(TestDevices.openCL.first, "no OpenCL device")
        let x = Tensor([1, -2, 3], shape: [3], on: .cpu).requiringGrad()
        (x.to(gpu).relu() * 2).sum().backward()
        #expect(x.grad?.device == .cpu && x.grad?.toArray() == [2, 0, 2])
    }
}

import FlintBackend
import Foundation
import Testing

/// The fused LSTM cell and its adjoint, the backend's own and the composed default, against a
/// Float64 reference, with operands laid out as recurrent layers pass them (a step's slice of
/// the time-major projection, the cell half of the previous `[h | c]`) and transposed.
extension BackendConformance {
    /// Float64 LSTM step: (out = [h' | c'], gates) per row, and the adjoint (dz, dc).
    struct LSTMReference {
        let batch: Int
        let units: Int
        var out: [Double] = []
        var gates: [Double] = []
        var gateGradient: [Double] = []
        var cellGradient: [Double] = []

        init(batch: Int, units: Int, z: [Double], cell: [Double], gradient: [Double]) {
            self.batch = batch
            self.units = units
            func sigmoid(_ x: Double) -> Double { 1 / (1 + Foundation.exp(-x)) }
            for b in 0..<batch {
                var h: [Double] = [], c: [Double] = [], rowGates = [Double](repeating: 0, count: 4 * units)
                var dz = [Double](repeating: 0, count: 4 * units), dc: [Double] = []
                for j in 0..<units {
                    let zj = (0..<4).map { z[b * 4 * units + $0 * units + j] }
                    let (i, f, g, o) = (sigmoid(zj[0]), sigmoid(zj[1]), Foundation.tanh(zj[2]), sigmoid(zj[3]))
                    let c0 = cell[b * units + j], c1 = f * c0 + i * g, t = Foundation.tanh(c1)
                    h.append(o * t)
                    c.append(c1)
                    for (k, v) in [i, f, g, o].enumerated() { rowGates[k * units + j] = v }
                    let dh = gradient[b * 2 * units + j], dc1 = gradient[b * 2 * units + units + j]
                    let total = dc1 + dh * o * (1 - t * t)
                    dz[j] = total * g * i * (1 - i)
                    dz[units + j] = total * c0 * f * (1 - f)
                    dz[2 * units + j] = total * i * (1 - g * g)
                    dz[3 * units + j] = dh * t * o * (1 - o)
                    dc.append(total * f)
                }
                out += h + c
                gates += rowGates
                gateGradient += dz
                cellGradient += dc
            }
        }
    }

    static let recurrent: [ConformanceCheck] = [
        ConformanceCheck("lstmCell and its adjoint (own and composed) match Float64, strided and transposed operands") { backend in
            for (batch, units, transposed) in [(3, 5, false), (7, 33, false), (4, 6, true), (64, 160, false)] {
                var random = TestRandom(seed: 61 &+ UInt64(units))
                let wide = batch * 4 * units, narrow = batch * units
                let x = random.floats(wide, -3, 3), r = random.floats(wide, -3, 3)
                let c = random.floats(narrow, -2, 2)
                // input: rows at an offset inside a larger buffer (a timestep of the projection),
                // or stored transposed; cell: the c half of a [batch, 2·units] state.
                let input: StridedOperand, cell: StridedOperand
                if transposed {
                    var stored = [Float](repeating: .nan, count: wide)
                    for b in 0..<batch { for k in 0..<(4 * units) { stored[k * batch + b] = x[b * 4 * units + k] } }
                    input = StridedOperand(buffer: backend.upload(stored), offset: 0, strides: [1, batch])
                } else {
                    input = StridedOperand(buffer: backend.upload([Float](repeating: .nan, count: 7) + x), offset: 7, strides: [4 * units, 1])
                }
                var state = [Float](repeating: .nan, count: 2 * narrow)
                for b in 0..<batch { for j in 0..<units { state[b * 2 * units + units + j] = c[b * units + j] } }
                cell = StridedOperand(buffer: backend.upload(state), offset: units, strides: [2 * units, 1])
                let recurrent = StridedOperand(buffer: backend.upload(r), offset: 0, strides: [4 * units, 1])
                let z = zip(x, r).map { Double($0) + Double($1) }
                // The gradients of h' and c': the two halves of one [batch, 2·units] buffer, or
                // separate buffers (h's transposed); one of them missing (a broadcast zero) at times.
                let variants: [(missing: String?, separate: Bool)] = [(nil, transposed)]
                    + (batch == 7 ? [("c", false)] : []) + (batch == 64 ? [("h", true)] : [])
                for (missing, separate) in variants {
                var g = random.floats(2 * narrow, -1, 1)
                for b in 0..<batch { for j in 0..<units {
                    if missing == "h" { g[b * 2 * units + j] = 0 }
                    if missing == "c" { g[b * 2 * units + units + j] = 0 }
                } }
                let reference = LSTMReference(batch: batch, units: units, z: z, cell: c.map(Double.init), gradient: g.map(Double.init))
                let zero = StridedOperand(buffer: backend.upload([0]), offset: 0, strides: [0, 0])
                var hGradient: StridedOperand, cGradient: StridedOperand
                if separate {
                    var hStored = [Float](repeating: .nan, count: narrow), cStored = [Float](repeating: .nan, count: narrow)
                    for b in 0..<batch { for j in 0..<units {
                        hStored[j * batch + b] = g[b * 2 * units + j]
                        cStored[b * units + j] = g[b * 2 * units + units + j]
                    } }
                    hGradient = StridedOperand(buffer: backend.upload(hStored), offset: 0, strides: [1, batch])
                    cGradient = StridedOperand(buffer: backend.upload(cStored), offset: 0, strides: [units, 1])
                } else {
                    let both = backend.upload(g)
                    hGradient = StridedOperand(buffer: both, offset: 0, strides: [2 * units, 1])
                    cGradient = StridedOperand(buffer: both, offset: units, strides: [2 * units, 1])
                }
                if missing == "h" { hGradient = zero }
                if missing == "c" { cGradient = zero }
                for composed in [false, true] {
                    let out = backend.allocate(byteCount: 2 * narrow * 4), gates = backend.allocate(byteCount: wide * 4)
                    let dz = backend.allocate(byteCount: wide * 4), dc = backend.allocate(byteCount: narrow * 4)
                    if composed {
                        backend.composedLSTMCell(batch: batch, units: units, input: input, recurrent: recurrent, cell: cell,
                                                 out: out, gates: gates)
                        backend.composedLSTMCellBackward(batch: batch, units: units, gates: gates, cell: cell, out: out,
                                                         hGradient: hGradient, cGradient: cGradient, outGates: dz, outCell: dc)
                    } else {
                        backend.lstmCell(batch: batch, units: units, input: input, recurrent: recurrent, cell: cell, out: out, gates: gates)
                        backend.lstmCellBackward(batch: batch, units: units, gates: gates, cell: cell, out: out,
                                                 hGradient: hGradient, cGradient: cGradient, outGates: dz, outCell: dc)
                    }
                    let what = "\(composed ? "composed" : "own") lstmCell batch \(batch) units \(units)\(transposed ? " transposed" : "")"
                        + (separate ? ", separate gradients" : "") + (missing.map { ", no \($0) gradient" } ?? "")
                    expectClose(backend.floats(out, count: 2 * narrow), reference.out, tolerance: 2e-6, "\(what): [h' | c']")
                    expectClose(backend.floats(gates, count: wide), reference.gates, tolerance: 2e-6, "\(what): gates")
                    expectClose(backend.floats(dz, count: wide), reference.gateGradient, tolerance: 2e-6, "\(what): dz")
                    expectClose(backend.floats(dc, count: narrow), reference.cellGradient, tolerance: 2e-6, "\(what): dc")
                }
                }
            }
        },
    ]
}

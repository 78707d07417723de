/// The primitives of `Backend`, by name: what a backend that came up only in part (an OpenCL
/// program that failed to build) reports it cannot run, so they can run elsewhere.
public enum Primitive: String, Sendable, Hashable, CaseIterable, Comparable {
    case unary, binary, select, copy, fill, cast
    case reduce, argmax, softmax, gather, scatterAdd
    case gemm, im2col, col2im, conv2d, conv2dFilterGradient, maxPool2d, maxPool2dBackward
    case adamStep, lstmCell, lstmCellBackward, random

    public static func < (lhs: Primitive, rhs: Primitive) -> Bool {
        allCases.firstIndex(of: lhs)! < allCases.firstIndex(of: rhs)!
    }
}

/// How a backend came up, for reports a user attaches to a bug (`flint doctor`).
public struct BackendDiagnostics: Sendable {
    /// Each kernel program built, in build order, and how long its build took.
    public var programBuilds: [(program: String, seconds: Double)]
    /// Programs that failed to build and why (the first lines of the error); their primitives
    /// are in `unavailablePrimitives`.
    public var failedPrograms: [(program: String, reason: String)]
    /// Primitives this backend cannot run itself.
    public var unavailablePrimitives: Set<Primitive>
    /// Other facts worth a line each (`("OpenCL loader", "libOpenCL.so.1")`).
    public var details: [(name: String, value: String)]

    public init(programBuilds: [(program: String, seconds: Double)] = [], failedPrograms: [(program: String, reason: String)] = [],
                unavailablePrimitives: Set<Primitive> = [], details: [(name: String, value: String)] = []) {
        self.programBuilds = programBuilds
        self.failedPrograms = failedPrograms
        self.unavailablePrimitives = unavailablePrimitives
        self.details = details
    }
}

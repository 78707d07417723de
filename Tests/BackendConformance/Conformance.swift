import FlintBackend
import Testing

/// One primitive-level check, run against any backend: a topic of the conformance suite
/// (`reduce: NaN propagates through max and min`). Test targets run every check on every
/// backend they have:
///
/// ```swift
/// @Test(arguments: BackendConformance.checks, devices)
/// func primitive(_ check: ConformanceCheck, device: Device) throws { try check.run(device.backend) }
/// ```
public struct ConformanceCheck: Sendable, CustomTestStringConvertible, CustomStringConvertible {
    /// The primitive family and what is checked.
    public let name: String
    private let body: @Sendable (any Backend) throws -> Void

    init(_ name: String, _ body: @escaping @Sendable (any Backend) throws -> Void) {
        self.name = name
        self.body = body
    }

    /// Runs the check on `backend`, recording failures as Swift Testing issues.
    ///
    /// - Parameter backend: the backend under test.
    /// - Throws: only what the check's own `#require`s throw.
    public func run(_ backend: any Backend) throws { try body(backend) }

    public var testDescription: String { name }
    public var description: String { name }
}

/// The conformance suite: every primitive of `Backend` compared with plain Float64 references
/// written here (never with another backend), on odd sizes, offsets, strided and broadcast
/// operands, NaN and infinities, and sizes large enough to take parallel and multi-stage paths.
/// Tolerances are stated per check.
public enum BackendConformance {
    /// Every check, topic by topic.
    public static let checks: [ConformanceCheck] =
        elementwise + memory + reductions + axisOps + indexing + gemm + windows + convolution + convolutionPooling + random + composed + recurrent + lstmSequence
}

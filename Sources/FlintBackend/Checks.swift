import Synchronization

/// Stops with `message` when `condition` is false.
///
/// Unlike `precondition`, the message is printed in optimised builds too: a user of a release
/// binary must learn which op failed and why. Use it for checks after which the code cannot go
/// on (an index that would read outside a buffer); use `checkArgument(_:_:file:line:)` where the
/// caller can return a placeholder, so that `withError(_:)` can turn the failure into an error.
///
/// - Parameters:
///   - condition: What must hold.
///   - message: What went wrong, naming the operation and the values involved.
@inline(__always)
public func ensure(_ condition: @autoclosure () -> Bool, _ message: @autoclosure () -> String,
                   file: StaticString = #fileID, line: UInt = #line) {
    if !condition() { fatalError(message(), file: file, line: line) }
}

/// Checks an argument that a caller can recover from.
///
/// Outside a `withError(_:)` scope a failure stops the program with `message`, as
/// `ensure(_:_:file:line:)` does. Inside one it records the failure (the scope throws it when
/// its body returns) and answers `false`, and the caller returns a placeholder result without
/// running any work.
///
/// - Parameters:
///   - condition: What must hold.
///   - message: What went wrong, naming the operation and the values involved.
/// - Returns: `true` when `condition` holds; `false` when it failed inside a scope.
public func checkArgument(_ condition: @autoclosure () -> Bool, _ message: @autoclosure () -> String,
                          file: StaticString = #fileID, line: UInt = #line) -> Bool {
    if condition() { return true }
    failArgument(message(), file: file, line: line)
    return false
}

/// Reports an argument check that failed: records it inside a `withError(_:)` scope (the
/// caller then returns a placeholder), stops the program with `message` outside one.
///
/// - Parameter message: What went wrong, naming the operation and the values involved.
public func failArgument(_ message: @autoclosure () -> String, file: StaticString = #fileID, line: UInt = #line) {
    guard let scope = ErrorScope.current else { fatalError(message(), file: file, line: line) }
    scope.record(ArgumentError(message: message(), file: "\(file)", line: line))
}

/// An argument check that failed inside a `withError(_:)` scope: an impossible shape, an axis
/// out of range. `message` is the text the check would otherwise have stopped with.
public struct ArgumentError: Error, Equatable, Sendable, CustomStringConvertible {
    /// What went wrong, naming the operation and the values involved.
    public let message: String
    /// The source file of the check.
    public let file: String
    /// The line of the check.
    public let line: UInt

    /// The message alone.
    public var description: String { message }
}

/// Runs `body`, turning argument checks that fail inside it into a thrown ``ArgumentError``
/// instead of stopping the program, so that a long-running service survives a bad request.
///
/// ```swift
/// do {
///     let logits = try withError { model(request) }
/// } catch let error as ArgumentError {
///     respond(400, error.message)   // e.g. "matmul: shapes [1, 5] and [4, 3] do not multiply …"
/// }
/// ```
///
/// The scope is task-local: it covers `body` and the tasks it starts, on whatever thread they
/// run, and no other thread. A failed op skips its work and returns a placeholder of the shape
/// it would have had, filled with NaN; later ops run on it, gradients are not propagated and
/// optimizer steps are skipped, so parameters keep their values. The first failure is thrown
/// when `body` returns (before any error `body` throws itself). Checks that cannot yield a
/// placeholder (an index outside a buffer) still stop the program.
///
/// - Parameter body: The work to guard.
/// - Returns: What `body` returns, when no check failed.
/// - Throws: The first ``ArgumentError`` recorded, else whatever `body` throws.
public func withError<Result>(_ body: () throws -> Result) throws -> Result {
    let scope = ErrorScope()
    let result: Result
    do {
        result = try ErrorScope.$current.withValue(scope) { try body() }
    } catch {
        throw scope.firstError ?? error
    }
    if let error = scope.firstError { throw error }
    return result
}

/// The `async` form of `withError(_:)`.
///
/// - Parameter body: The work to guard.
/// - Returns: What `body` returns, when no check failed.
/// - Throws: The first ``ArgumentError`` recorded, else whatever `body` throws.
public func withError<Result>(_ body: () async throws -> Result) async throws -> Result {
    let scope = ErrorScope()
    let result: Result
    do {
        result = try await ErrorScope.$current.withValue(scope) { try await body() }
    } catch {
        throw scope.firstError ?? error
    }
    if let error = scope.firstError { throw error }
    return result
}

/// The failures recorded in one `withError(_:)` scope. Child tasks share it, hence the lock.
public final class ErrorScope: Sendable {
    /// The innermost scope around the running code, if any.
    @TaskLocal public static var current: ErrorScope?

    /// Whether the code runs inside a scope in which a check has already failed: work whose
    /// result would be discarded (a backward pass, an optimizer step) may be skipped.
    public static var hasFailed: Bool { current?.firstError != nil }

    private let failure = Mutex<ArgumentError?>(nil)

    init() {}

    /// The first failure recorded, if any.
    public var firstError: ArgumentError? { failure.withLock { $0 } }

    func record(_ error: ArgumentError) {
        failure.withLock { if $0 == nil { $0 = error } }
    }
}

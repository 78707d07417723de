/// Stops with `message` when `condition` is false. Unlike `precondition`, the message is
/// printed in optimised builds too: a shape error must name the op and shapes for users of
/// release binaries, not just in debug.
@inline(__always)
public func ensure(_ condition: @autoclosure () -> Bool, _ message: @autoclosure () -> String,
            file: StaticString = #file, line: UInt = #line) {
    if !condition() { fatalError(message(), file: file, line: line) }
}

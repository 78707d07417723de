#if canImport(Glibc)
// C's `stdout` is a mutable global: set once, before anything else runs, which is safe.
@preconcurrency import Glibc
#elseif canImport(Darwin)
@preconcurrency import Darwin
#endif

enum StandardStreams {
    /// Line-buffers stdout, so a log redirected to a file or a pipe keeps every finished line
    /// even if the process dies (C buffers it in blocks there); stderr is unbuffered already.
    static func flushEveryLine() {
        setvbuf(stdout, nil, _IOLBF, 0)
    }
}

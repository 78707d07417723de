#if canImport(Glibc)
import Glibc
#endif

/// libFuzzer's own driver (FuzzerDriver.cpp, in the runtime `-sanitize=fuzzer` links). SwiftPM
/// gives every executable target an entry point of its own (it renames `main` so tests can link
/// executables), so libFuzzer's `main` is never used: each target's main.swift calls this with
/// its test function instead.
@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(
    _ argc: UnsafeMutablePointer<CInt>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>,
    _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt
) -> CInt

/// Runs libFuzzer with this process's arguments on `test`, which gets each input's bytes.
public func runFuzzer(_ test: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt) -> Never {
    var argc = CommandLine.argc
    var argv = CommandLine.unsafeArgv
    exit(LLVMFuzzerRunDriver(&argc, &argv, test))
}

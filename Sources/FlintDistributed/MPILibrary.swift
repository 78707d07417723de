import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Open MPI, opened with `dlopen` when a process runs under `mpirun`, so Flint needs no MPI to
/// build or run. Open MPI's handles (`MPI_COMM_WORLD`, `MPI_FLOAT`, `MPI_SUM`) are the addresses
/// of global objects in the library, which `dlsym` gives directly: no C shim is needed.
final class MPILibrary: @unchecked Sendable {
    typealias Handle = UnsafeMutableRawPointer
    typealias InitThread = @convention(c) (UnsafeMutablePointer<Int32>?, UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>?, Int32, UnsafeMutablePointer<Int32>) -> Int32
    typealias Query = @convention(c) (Handle, UnsafeMutablePointer<Int32>) -> Int32
    typealias Allreduce = @convention(c) (UnsafeRawPointer?, UnsafeMutableRawPointer?, Int32, Handle, Handle, Handle) -> Int32
    typealias Bcast = @convention(c) (UnsafeMutableRawPointer?, Int32, Handle, Int32, Handle) -> Int32
    typealias Allgather = @convention(c) (UnsafeRawPointer?, Int32, Handle, UnsafeMutableRawPointer?, Int32, Handle, Handle) -> Int32
    typealias Barrier = @convention(c) (Handle) -> Int32
    typealias Abort = @convention(c) (Handle, Int32) -> Int32
    typealias Finalize = @convention(c) () -> Int32

    let path: String
    let world: Handle
    let float: Handle
    let byte: Handle
    let sum: Handle
    let max: Handle
    let initThread: InitThread
    let commRank: Query
    let commSize: Query
    let allreduce: Allreduce
    let bcast: Bcast
    let allgather: Allgather
    let barrier: Barrier
    let abort: Abort
    let finalize: Finalize

    /// Opens the library at `path` (`FLINT_MPI_LIBRARY`, else `libmpi.so.40`), or throws why not.
    init(path: String) throws {
        self.path = path
        guard let library = dlopen(path, RTLD_NOW | RTLD_GLOBAL) else {
            throw DistributedError.libraryUnavailable(path: path, reason: dlerror().map { String(cString: $0) } ?? "dlopen failed")
        }
        func symbol(_ name: String) throws -> UnsafeMutableRawPointer {
            guard let address = dlsym(library, name) else {
                throw DistributedError.libraryUnavailable(path: path, reason: "it has no \(name) (Flint needs Open MPI)")
            }
            return address
        }
        func function<T>(_ name: String, as type: T.Type) throws -> T { unsafeBitCast(try symbol(name), to: type) }
        world = try symbol("ompi_mpi_comm_world")
        float = try symbol("ompi_mpi_float")
        byte = try symbol("ompi_mpi_byte")
        sum = try symbol("ompi_mpi_op_sum")
        max = try symbol("ompi_mpi_op_max")
        initThread = try function("MPI_Init_thread", as: InitThread.self)
        commRank = try function("MPI_Comm_rank", as: Query.self)
        commSize = try function("MPI_Comm_size", as: Query.self)
        allreduce = try function("MPI_Allreduce", as: Allreduce.self)
        bcast = try function("MPI_Bcast", as: Bcast.self)
        allgather = try function("MPI_Allgather", as: Allgather.self)
        barrier = try function("MPI_Barrier", as: Barrier.self)
        abort = try function("MPI_Abort", as: Abort.self)
        finalize = try function("MPI_Finalize", as: Finalize.self)
    }
}

/// What can go wrong setting up or running a process group.
public enum DistributedError: Error, CustomStringConvertible, Equatable {
    case libraryUnavailable(path: String, reason: String)
    case callFailed(call: String, code: Int32)
    /// Ranks disagree about the run (model, data, batch size): each field that differs.
    case mismatchedConfiguration(String)
    case timedOut(call: String, seconds: Double)

    public var description: String {
        switch self {
        case .libraryUnavailable(let path, let reason): "cannot use MPI library \(path): \(reason)"
        case .callFailed(let call, let code): "\(call) failed with MPI error \(code)"
        case .mismatchedConfiguration(let what): "the ranks disagree about the run (\(what)): start every rank with the same model, data and options"
        case .timedOut(let call, let seconds): "\(call) did not complete within \(Int(seconds)) s: another rank has died or stalled"
        }
    }
}

import FlintCore
import Foundation
import Synchronization

/// The processes of a data-parallel run, as MLX's `mx.distributed` and Horovod present them:
/// each has a `rank` in `0..<size` and runs the same program on its share of the data.
///
/// `ProcessGroup.world` is every process started by `mpirun` (Open MPI, opened at run time from
/// `FLINT_MPI_LIBRARY` or `libmpi.so.40`), or a world of one when the process was not started by
/// `mpirun` or MPI cannot be loaded (said once on standard error). Every collective is a no-op
/// in a world of one, so the same program runs with or without `mpirun`. A collective that does
/// not complete within `FLINT_DISTRIBUTED_TIMEOUT` seconds (300 by default) — another rank died
/// or stalled — aborts the whole job with a message instead of hanging forever.
public final class ProcessGroup: @unchecked Sendable {
    public let rank: Int
    public let size: Int
    /// This process's position among the processes on its machine (it picks `opencl:<localRank>`).
    public let localRank: Int
    public let localSize: Int
    /// The MPI library in use, nil in a world of one without MPI.
    public let libraryPath: String?
    let mpi: MPILibrary?
    private let watchdog: Watchdog?

    /// Whether there is more than one process.
    public var isDistributed: Bool { size > 1 }

    /// Every process of the job.
    public static let world: ProcessGroup = makeWorld()

    /// A world of one.
    public static let single = ProcessGroup(rank: 0, size: 1, localRank: 0, localSize: 1, mpi: nil)

    init(rank: Int, size: Int, localRank: Int, localSize: Int, mpi: MPILibrary?) {
        self.rank = rank
        self.size = size
        self.localRank = localRank
        self.localSize = localSize
        self.mpi = mpi
        self.libraryPath = mpi?.path
        let seconds = ProcessInfo.processInfo.environment["FLINT_DISTRIBUTED_TIMEOUT"].flatMap(Double.init) ?? 300
        self.watchdog = mpi != nil && size > 1 ? Watchdog(seconds: seconds, mpi: mpi!) : nil
    }

    private static func makeWorld() -> ProcessGroup {
        let environment = ProcessInfo.processInfo.environment
        let debug = (environment["FLINT_DEBUG"].flatMap(Int.init) ?? 0) > 0
        // mpirun (Open MPI's launcher) sets these; without them there is nobody to talk to.
        guard environment["OMPI_COMM_WORLD_SIZE"] != nil || environment["PMIX_RANK"] != nil else {
            if debug { FileHandle.standardError.write(Data("flint: not started by mpirun: a world of one process\n".utf8)) }
            return .single
        }
        let path = environment["FLINT_MPI_LIBRARY"].flatMap { $0.isEmpty ? nil : $0 } ?? "libmpi.so.40"
        // Open MPI's shared-memory transport copies large messages between processes with
        // process_vm_readv, which containers commonly forbid (the job then fails with
        // "Read -1 … errno = 14"); copying through shared buffers works everywhere.
        if environment["OMPI_MCA_btl_vader_single_copy_mechanism"] == nil {
            setenv("OMPI_MCA_btl_vader_single_copy_mechanism", "none", 0)
        }
        do {
            let mpi = try MPILibrary(path: path)
            var provided: Int32 = 0
            // MPI_THREAD_SERIALIZED (2): collectives come from one thread at a time; the watchdog may abort.
            let status = mpi.initThread(nil, nil, 2, &provided)
            guard status == 0 else { throw DistributedError.callFailed(call: "MPI_Init_thread", code: status) }
            var rank: Int32 = 0, size: Int32 = 1
            _ = mpi.commRank(mpi.world, &rank)
            _ = mpi.commSize(mpi.world, &size)
            let localRank = environment["OMPI_COMM_WORLD_LOCAL_RANK"].flatMap(Int.init) ?? 0
            let localSize = environment["OMPI_COMM_WORLD_LOCAL_SIZE"].flatMap(Int.init) ?? 1
            if debug {
                FileHandle.standardError.write(Data("flint: rank \(rank) of \(size) (local \(localRank) of \(localSize)) over \(path)\n".utf8))
            }
            let group = ProcessGroup(rank: Int(rank), size: Int(size), localRank: localRank, localSize: localSize, mpi: mpi)
            atexit { ProcessGroup.world.finish() }
            return group
        } catch {
            FileHandle.standardError.write(Data("flint: started by mpirun but running as a single process: \(error)\n".utf8))
            return .single
        }
    }

    private let finished = Mutex(false)

    /// Shuts MPI down (at exit; explicit calls are for tests).
    func finish() {
        guard let mpi, !finished.withLock({ let was = $0; $0 = true; return was }) else { return }
        _ = mpi.finalize()
    }

    /// Ends every process of the job with `message` (a rank that cannot go on must not leave the
    /// others waiting).
    public func abort(_ message: String) -> Never {
        FileHandle.standardError.write(Data("flint (rank \(rank)): \(message)\n".utf8))
        if let mpi, size > 1 { _ = mpi.abort(mpi.world, 1) }
        exit(1)
    }

    // MARK: Host collectives

    /// Runs one MPI call under the watchdog, ending the job if it fails.
    private func call(_ name: String, _ body: (MPILibrary) -> Int32) {
        guard let mpi, size > 1 else { return }
        watchdog?.begin(name)
        let status = body(mpi)
        watchdog?.end()
        if status != 0 { abort("\(name) failed with MPI error \(status)") }
    }

    /// Sums `values` element-wise over every rank, in place.
    public func allSum(_ values: inout [Float]) {
        guard size > 1, !values.isEmpty else { return }
        let count = Int32(values.count)
        values.withUnsafeMutableBytes { buffer in
            call("MPI_Allreduce") { mpi in
                // MPI_IN_PLACE is (void *) 1 in Open MPI.
                mpi.allreduce(UnsafeRawPointer(bitPattern: 1), buffer.baseAddress, count, mpi.float, mpi.sum, mpi.world)
            }
        }
    }

    /// The element-wise maximum of `values` over every rank, in place.
    public func allMax(_ values: inout [Float]) {
        guard size > 1, !values.isEmpty else { return }
        let count = Int32(values.count)
        values.withUnsafeMutableBytes { buffer in
            call("MPI_Allreduce") { mpi in
                mpi.allreduce(UnsafeRawPointer(bitPattern: 1), buffer.baseAddress, count, mpi.float, mpi.max, mpi.world)
            }
        }
    }

    /// Replaces `values` with rank `root`'s (which must have the same count everywhere).
    public func broadcast(_ values: inout [Float], from root: Int = 0) {
        guard size > 1, !values.isEmpty else { return }
        let count = Int32(values.count)
        values.withUnsafeMutableBytes { buffer in
            call("MPI_Bcast") { mpi in mpi.bcast(buffer.baseAddress, count, mpi.float, Int32(root), mpi.world) }
        }
    }

    /// Rank `root`'s bytes, on every rank (any length: the length travels first).
    public func broadcast(bytes: [UInt8], from root: Int = 0) -> [UInt8] {
        guard size > 1 else { return bytes }
        var length = [Float(bitPattern: UInt32(bytes.count))]
        broadcast(&length, from: root)
        var buffer = rank == root ? bytes : [UInt8](repeating: 0, count: Int(length[0].bitPattern))
        guard !buffer.isEmpty else { return buffer }
        buffer.withUnsafeMutableBytes { raw in
            call("MPI_Bcast") { mpi in mpi.bcast(raw.baseAddress, Int32(raw.count), mpi.byte, Int32(root), mpi.world) }
        }
        return buffer
    }

    /// Every rank's `values` (all of the same count), concatenated in rank order.
    public func allGather(_ values: [Float]) -> [Float] {
        guard size > 1 else { return values }
        var gathered = [Float](repeating: 0, count: values.count * size)
        values.withUnsafeBytes { input in
            gathered.withUnsafeMutableBytes { output in
                call("MPI_Allgather") { mpi in
                    mpi.allgather(input.baseAddress, Int32(values.count), mpi.float, output.baseAddress, Int32(values.count), mpi.float, mpi.world)
                }
            }
        }
        return gathered
    }

    /// Waits until every rank has reached this point.
    public func barrier() {
        call("MPI_Barrier") { mpi in mpi.barrier(mpi.world) }
    }

    // MARK: Tensor collectives (through host memory)

    /// The element-wise sum of `tensor` over every rank, on `tensor`'s device.
    public func allSum(_ tensor: Tensor) -> Tensor {
        guard size > 1 else { return tensor }
        var values = tensor.toArray()
        allSum(&values)
        return Tensor(values, shape: tensor.shape, on: tensor.device)
    }

    /// The element-wise mean of `tensor` over every rank.
    public func allAverage(_ tensor: Tensor) -> Tensor {
        guard size > 1 else { return tensor }
        var values = tensor.toArray()
        allSum(&values)
        let scale = 1 / Float(size)
        return Tensor(values.map { $0 * scale }, shape: tensor.shape, on: tensor.device)
    }

    /// Rank `root`'s `tensor` (same shape everywhere), on each rank's own device.
    public func broadcast(_ tensor: Tensor, from root: Int = 0) -> Tensor {
        guard size > 1 else { return tensor }
        var values = tensor.toArray()
        broadcast(&values, from: root)
        return Tensor(values, shape: tensor.shape, on: tensor.device)
    }

    /// Every rank's `tensor` (same shape everywhere) joined along axis 0 in rank order.
    public func allGather(_ tensor: Tensor) -> Tensor {
        guard size > 1 else { return tensor }
        let gathered = allGather(tensor.toArray())
        let shape = tensor.rank == 0 ? [size] : [tensor.shape[0] * size] + tensor.shape.dropFirst()
        return Tensor(gathered, shape: shape, on: tensor.device)
    }
}

/// Aborts the job when a collective takes longer than its limit.
private final class Watchdog: @unchecked Sendable {
    private let state = Mutex<(call: String, since: Date)?>(nil)
    private let seconds: Double
    private let mpi: MPILibrary

    init(seconds: Double, mpi: MPILibrary) {
        self.seconds = seconds
        self.mpi = mpi
        let thread = Thread { [self] in watch() }
        thread.name = "flint-distributed-watchdog"
        thread.start()
    }

    private func watch() {
        while true {
            Thread.sleep(forTimeInterval: Swift.min(1, seconds / 4))
            if let (call, since) = state.withLock({ $0 }), Date().timeIntervalSince(since) > seconds {
                FileHandle.standardError.write(Data("flint: \(DistributedError.timedOut(call: call, seconds: seconds)); stopping the job\n".utf8))
                _ = mpi.abort(mpi.world, 2)
                exit(2)
            }
        }
    }

    func begin(_ call: String) { state.withLock { $0 = (call, Date()) } }
    func end() { state.withLock { $0 = nil } }
}

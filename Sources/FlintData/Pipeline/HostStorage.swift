import Foundation

/// Bytes in host memory that stay where they are for the storage's lifetime: an allocation of
/// its own, a memory-mapped file, or memory that another object owns and keeps alive (a CPU
/// tensor's buffer). Read-only once made, so it is shared freely between threads.
public final class HostStorage: @unchecked Sendable {
    /// The bytes, valid as long as the storage lives.
    public let bytes: UnsafeRawBufferPointer
    private let kind: Kind

    private enum Kind {
        case allocated(UnsafeMutableRawPointer)
        case mapped(UnsafeMutableRawPointer, length: Int)
        case borrowed(AnyObject)
    }

    private init(bytes: UnsafeRawBufferPointer, kind: Kind) {
        self.bytes = bytes
        self.kind = kind
    }

    deinit {
        switch kind {
        case .allocated(let base): base.deallocate()
        case .mapped(let base, let length): munmap(base, length)
        case .borrowed: break
        }
    }

    /// The number of bytes.
    public var count: Int { bytes.count }

    /// A fresh allocation of `byteCount` bytes, filled by `initialize` (which must write all of them).
    public convenience init(byteCount: Int, initializingWith initialize: (UnsafeMutableRawBufferPointer) throws -> Void) rethrows {
        let base = UnsafeMutableRawPointer.allocate(byteCount: Swift.max(byteCount, 1), alignment: 64)
        do {
            try initialize(UnsafeMutableRawBufferPointer(start: base, count: byteCount))
        } catch {
            base.deallocate()
            throw error
        }
        self.init(bytes: UnsafeRawBufferPointer(start: base, count: byteCount), kind: .allocated(base))
    }

    /// A copy of `source`.
    public convenience init(copying source: UnsafeRawBufferPointer) {
        self.init(byteCount: source.count) { target in
            if source.count > 0 { target.copyMemory(from: source) }
        }
    }

    /// A copy of `values`' bytes.
    public convenience init<Element>(copying values: [Element]) {
        self.init(byteCount: values.count * MemoryLayout<Element>.stride) { target in
            values.withUnsafeBytes { if $0.count > 0 { target.copyMemory(from: $0) } }
        }
    }

    /// Memory owned by `owner`, which must keep it alive and unchanged as long as this storage lives.
    public convenience init(borrowing bytes: UnsafeRawBufferPointer, owner: AnyObject) {
        self.init(bytes: bytes, kind: .borrowed(owner))
    }

    /// `byteCount` bytes of the open file `descriptor` from `offset`, memory-mapped read-only; nil
    /// when the system refuses (no address space left under a memory limit, a file system that
    /// cannot map), so that the caller reads the file instead.
    static func mapping(descriptor: Int32, offset: Int, byteCount: Int) -> HostStorage? {
        guard byteCount > 0 else { return HostStorage(byteCount: 0) { _ in } }
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let start = offset / page * page
        let length = byteCount + (offset - start)
        guard let base = mmap(nil, length, PROT_READ, MAP_PRIVATE, descriptor, off_t(start)), base != MAP_FAILED else { return nil }
        return HostStorage(bytes: UnsafeRawBufferPointer(start: base + (offset - start), count: byteCount),
                           kind: .mapped(base, length: length))
    }
}

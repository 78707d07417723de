import Foundation
import FlintBackend
import Synchronization

/// The backend providers of this process, and one opened backend per device.
///
/// FlintCore knows no concrete backend. Providers arrive in two ways:
/// - linked: a module the program links declares `LinkedBackends`' conformance to
///   ``BackendProviderList`` (the umbrella module `Flint` does, for the CPU and OpenCL), and the
///   registry finds it on first use with a dynamic cast, so `import Flint` needs no setup call;
/// - registered: ``register(_:)`` adds any other provider at run time (a backend in its own
///   package, a test's reference backend).
public enum BackendRegistry {
    private struct State {
        var providers: [any BackendProvider]
        /// Each kind's devices, listed once per provider.
        var discovered: [DeviceInfo.Kind: [DeviceInfo]] = [:]
        /// Opened backends by device identifier.
        var opened: [String: any Backend] = [:]
    }

    private static let state = Mutex(State(providers: LinkedBackends.linked))
    /// Serialises opening backends, which may take seconds (kernel builds), without holding `state`.
    private static let opening = Mutex<Void>(())

    /// Adds `provider`: its devices join `Device.available` after those of the providers
    /// already there. A provider of a kind that is already registered replaces the old one for
    /// devices opened from now on.
    ///
    /// - Parameter provider: lists and opens the devices of its kind.
    public static func register(_ provider: any BackendProvider) {
        state.withLock { state in
            if let existing = state.providers.firstIndex(where: { $0.kind == provider.kind }) {
                state.providers[existing] = provider
                state.discovered[provider.kind] = nil
                state.opened = state.opened.filter { $0.value.info.kind != provider.kind }
            } else {
                state.providers.append(provider)
            }
        }
    }

    /// The kinds of the registered providers, in registration order.
    public static var kinds: [DeviceInfo.Kind] { state.withLock { $0.providers.map(\.kind) } }

    /// Every registered provider's devices, provider by provider in registration order.
    public static var devices: [DeviceInfo] {
        state.withLock { state in
            state.providers.flatMap { provider in
                if let known = state.discovered[provider.kind] { return known }
                let found = provider.devices()
                state.discovered[provider.kind] = found
                return found
            }
        }
    }

    /// The backend of `info`, opened on first use and kept for the life of the process.
    static func backend(for info: DeviceInfo) throws -> any Backend {
        if let backend = state.withLock({ $0.opened[info.identifier] }) { return backend }
        return try opening.withLock { _ in try openHoldingLock(info) }
    }

    private static func openHoldingLock(_ info: DeviceInfo) throws -> any Backend {
        if let backend = state.withLock({ $0.opened[info.identifier] }) { return backend }
        guard let provider = state.withLock({ $0.providers.first { $0.kind == info.kind } }) else {
            throw DeviceError.notFound(requested: info.identifier, available: devices)
        }
        var backend = try provider.makeBackend(for: info)
        if info.kind != .cpu, !backend.diagnostics.unavailablePrimitives.isEmpty,
           let host = devices.first(where: { $0.kind == .cpu }) {
            backend = withHostFallback(backend, host: try openHoldingLock(host))
        }
        state.withLock { $0.opened[info.identifier] = backend }
        return backend
    }

    /// `backend` wrapped so that the primitives it cannot run (kernels that failed to build) run
    /// on `host`; said once on stderr (a device opens once).
    private static func withHostFallback(_ backend: any Backend, host: any Backend) -> any Backend {
        let diagnostics = backend.diagnostics
        let reasons = diagnostics.failedPrograms.map { "  \($0.reason)" }.joined(separator: "\n")
        let primitives = diagnostics.unavailablePrimitives.sorted().map(\.rawValue).joined(separator: ", ")
        FileHandle.standardError.write(Data("""
            flint: on \(backend.info.identifier) (\(backend.info.name)) some kernels failed to build:
            \(reasons)
              \(primitives) run on the \(host.info.identifier) device instead (slower; results as there).
              Set FLINT_STRICT_KERNELS=1 to make this an error.

            """.utf8))
        return HostFallbackBackend(device: backend, host: host, unavailable: diagnostics.unavailablePrimitives)
    }

    /// `FLINT_DEVICE` if set, else the first GPU that opens, else the CPU. Resolved once.
    static let defaultDevice: Result<Device, any Error> = Result {
        if let requested = ProcessInfo.processInfo.environment["FLINT_DEVICE"], !requested.isEmpty {
            return try Device.named(requested)
        }
        let all = devices
        if let gpu = all.first(where: { $0.deviceType == "GPU" }) {
            let device = Device(info: gpu)
            do {
                try device.open()
                return device
            } catch {
                // Nobody asked for this GPU by name: say why it is skipped and carry on on the CPU.
                FileHandle.standardError.write(Data("flint: skipping \(device): \(error)\n".utf8))
            }
        }
        guard let fallback = all.first(where: { $0.kind == .cpu }) ?? all.first else {
            throw DeviceError.notFound(requested: "default", available: [])
        }
        return Device(info: fallback)
    }
}

/// The backend providers a module brings by being linked into the program.
///
/// Swift has no static initialisers, so a module cannot register anything when it loads. What
/// the language does guarantee is that a protocol conformance declared in any linked module is
/// found by a dynamic cast. So the one module that ships backends (the umbrella `Flint`)
/// declares
///
/// ```swift
/// extension LinkedBackends: BackendProviderList {
///     public static var providers: [any BackendProvider] { [CPUBackendProvider(), OpenCLBackendProvider()] }
/// }
/// ```
///
/// and ``BackendRegistry`` asks `LinkedBackends.self as? any BackendProviderList.Type` on first
/// use. A program that links `Flint` has the CPU and OpenCL devices without a setup call; one
/// that links only FlintCore has none until it calls ``BackendRegistry/register(_:)``. Only one
/// module may declare the conformance; other backends register at run time.
public enum LinkedBackends {
    static var linked: [any BackendProvider] {
        let type: Any.Type = LinkedBackends.self
        return (type as? any BackendProviderList.Type)?.providers ?? []
    }
}

/// The providers of the module that declares `LinkedBackends`' conformance (see ``LinkedBackends``).
public protocol BackendProviderList {
    /// The providers, in the order their devices are listed (the CPU first).
    static var providers: [any BackendProvider] { get }
}

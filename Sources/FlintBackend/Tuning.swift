/// What autotuning chose for one shape class of one kernel family on one device, and how.
public struct TuningRecord: Sendable, Hashable, Codable {
    /// Where the configuration in use came from.
    public enum Source: String, Sendable, Codable {
        /// Measured in this process.
        case search
        /// Read from the tuning cache, measured by an earlier process.
        case cache
        /// The built-in configuration: tuning is off (`FLINT_TUNE=0`) or the class has not run yet.
        case standard
    }

    /// The kernel family and shape class, `gemm/large`.
    public var key: String
    /// The problem the search timed, `1024x1024x512`.
    public var shape: String
    /// The configuration as the kernels' build options describe it.
    public var configuration: String
    /// The chosen configuration's rate on `shape` when it was measured (0 when never measured).
    public var gflops: Double
    /// The built-in configuration's rate in the same search, for the gain tuning brought.
    public var standardGflops: Double?
    /// Candidates timed.
    public var candidates: Int
    /// Seconds the search took, program builds included.
    public var seconds: Double
    public var source: Source
    /// When it was measured (ISO 8601), empty when never.
    public var date: String

    public init(key: String, shape: String, configuration: String, gflops: Double, standardGflops: Double?,
                candidates: Int, seconds: Double, source: Source, date: String) {
        self.key = key
        self.shape = shape
        self.configuration = configuration
        self.gflops = gflops
        self.standardGflops = standardGflops
        self.candidates = candidates
        self.seconds = seconds
        self.source = source
        self.date = date
    }
}

/// What to tune: every class or some, all candidates or the first few, cached results kept or not.
public struct TuningRequest: Sendable {
    /// Shape classes by key (`gemm/large`) or class name (`large`); nil means every one.
    public var classes: [String]?
    /// Keep a cached result instead of searching again (what any process does on first use).
    public var reuseCache: Bool
    /// Time at most this many candidates, the built-in one first (nil: the whole search space).
    public var maximumCandidates: Int?
    /// Called with a line per candidate timed (its configuration and rate), for `flint tune --verbose`.
    public var report: (@Sendable (String) -> Void)?

    public init(classes: [String]? = nil, reuseCache: Bool = false, maximumCandidates: Int? = nil,
                report: (@Sendable (String) -> Void)? = nil) {
        self.classes = classes
        self.reuseCache = reuseCache
        self.maximumCandidates = maximumCandidates
        self.report = report
    }
}

/// A backend whose kernels are tuned per device: `flint tune` and `Device.tune` reach it.
public protocol TunableBackend: Backend {
    /// For each shape class, the configuration a product of that class uses now: searched or
    /// read from the cache already, or the built-in one (with source `.standard`) where neither
    /// has happened. Never starts a search.
    var tuningRecords: [TuningRecord] { get }
    /// Runs the searches `request` asks for and stores the results in the cache.
    func tune(_ request: TuningRequest) throws -> [TuningRecord]
    /// The cache file this device's results go to; nil when tuning is off or there is no cache folder.
    var tuningCacheFile: String? { get }
}

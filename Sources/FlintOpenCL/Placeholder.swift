import FlintBackend
let embeddedCount = EmbeddedKernels.sources.count

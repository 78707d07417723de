/// A callback that also hears about training steps, not only epochs.
///
/// Reading the running loss and metrics waits for the device, so `logs` is a function: call it
/// only on the steps you report (every N steps), never on all of them.
public protocol BatchCallback: Callback {
    /// After training step `step`, counted from 1 across the whole `fit` (not per epoch).
    /// `logs()` gives the means of loss and metrics over the current epoch so far (as the
    /// progress bar shows them) and the `learning_rate` of this step.
    func batchEnded(_ step: Int, logs: () -> [String: Float])
}

import FlintData
import Foundation

extension History {
    /// A history made from per-epoch logs, as `fit` records them (for plotting saved logs).
    public init(_ epochs: [[String: Float]]) {
        self.init()
        epochs.forEach { append($0) }
    }

    /// The curves as an SVG document: one panel per quantity (loss first, then each metric),
    /// training values solid, `val_` values dashed, epochs from 1 along the bottom, and the
    /// learning rate dotted on a right-hand axis of the first panel. Values that are not
    /// finite leave a gap.
    public func svg(title: String? = nil) -> String { CurveChart(epochs: epochs, title: title).drawing().svg() }

    /// The same picture as `svg(title:)`, as pixels.
    public func image(title: String? = nil) -> PixelImage { CurveChart(epochs: epochs, title: title).drawing().raster() }

    /// Draws the curves to `url`, as SVG or PNG by its extension (`.svg`, `.png`), replacing
    /// the file atomically.
    public func plot(to url: URL, title: String? = nil) throws {
        try CurveChart(epochs: epochs, title: title).drawing().write(to: url)
    }
}

/// Redraws the training curves to a file after every epoch, so a long run can be watched in a
/// browser or image viewer while it trains; the file is replaced atomically each time.
///
///     try model.fit(x, y, epochs: 20, callbacks: [try TrainingCurves(url: URL(fileURLWithPath: "curves.svg"))])
///
/// A failed write does not stop training: the error is kept in `writeError` and reported once
/// on standard error.
public final class TrainingCurves: Callback {
    /// The picture written, SVG or PNG by its extension.
    public let url: URL
    /// A title above the plots; nil for none.
    public let title: String?
    /// The epochs of the current (or last) `fit`.
    public private(set) var history = History()
    /// The first failed write.
    public private(set) var writeError: (any Error)?

    /// Throws `PictureFormatError` unless `url` ends in `.svg` or `.png`.
    public init(url: URL, title: String? = nil) throws {
        guard ["svg", "png"].contains(url.pathExtension.lowercased()) else { throw PictureFormatError(path: url.path) }
        self.url = url
        self.title = title
    }

    /// Starts a fresh history.
    public func trainingBegan(model: Model) { history = History() }

    /// Records the epoch and redraws; never asks to stop.
    public func epochEnded(_ epoch: Int, logs: [String: Float], model: Model) -> Bool {
        history.append(logs)
        draw()
        return false
    }

    /// Draws the final picture.
    public func trainingEnded(model: Model) { draw() }

    private func draw() {
        do {
            try history.plot(to: url, title: title)
        } catch {
            if writeError == nil { FileHandle.standardError.write(Data("warning: \(error)\n".utf8)) }
            writeError = error
        }
    }
}
